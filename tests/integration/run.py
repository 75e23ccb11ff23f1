"""Runs one integration test module, as ctest does: `python3 run.py test_x`. Fails when no
test ran (unittest itself exits 0 then), so a module that lost its tests, or a name that
matches none, cannot pass."""

import sys
import unittest


def main(module):
    program = unittest.main(module=None, argv=[sys.argv[0], "-v", module], exit=False)
    result = program.result
    ran = result.testsRun - len(result.skipped)
    if ran == 0:
        print(f"run.py: no test ran in {module}", file=sys.stderr)
        return 5
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: run.py test_module")
    sys.exit(main(sys.argv[1]))
