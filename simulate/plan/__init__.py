"""The plan as typed, frozen data: units, distributions, the plan itself, the shock and action
specs, rule conditions, a re-forecast's opening, the market check. Pure data: nothing here
simulates, reads a file or prints.
"""
