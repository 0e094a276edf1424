import os
import sys

# tests/ holds helper modules (difftool, qemu fixtures) imported by the tests.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
