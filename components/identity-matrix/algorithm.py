"""The classic example: print an identity matrix of the requested order."""

import sys

import numpy as np


def main() -> None:
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    print("Here is your identity matrix:")
    print(np.eye(size))


if __name__ == "__main__":
    main()
