"""The loyalty program file (DESIGN D8): schema, loading with line-precise errors, CEL conditions.

from kopilka.program import load_program
program = load_program("examples/retail-wholesale.yaml")
program.hash, program.earn, program.levels ...
"""

from kopilka.program.errors import Problem, ProgramFileError
from kopilka.program.loader import load_program, parse_program
from kopilka.program.model import Program

__all__ = ["Problem", "Program", "ProgramFileError", "load_program", "parse_program"]
