"""Writes how it was run (name, argv, path, file, cwd) to the JSON file named by its first argument."""
import json
import os
import sys

if __name__ == "__main__":
    with open(sys.argv[1], "w") as fh:
        json.dump({"name": __name__, "argv": sys.argv[1:], "argv0": os.path.basename(sys.argv[0]),
                   "path0": sys.path[0], "file": __file__, "cwd": os.getcwd()}, fh)
