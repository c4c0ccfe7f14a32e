# expect: none
# args: none
FROM scratch
ADD rootfs.tar /
CMD ["bash"]
