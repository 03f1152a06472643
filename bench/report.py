"""Print the ratio table of the benchmark cases and write JSON: same as ``python -m pygd bench``."""

import sys

from pygd.__main__ import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
