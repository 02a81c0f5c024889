"""Statistics with no knowledge of sales: intervals, paired differences, distribution fits.
"""
