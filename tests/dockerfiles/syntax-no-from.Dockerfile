# expect: DF000 1
RUN echo no base
