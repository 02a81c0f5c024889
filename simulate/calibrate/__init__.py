"""From last year's CRM export to a plan: estimates, the plan's sections with their sources,
last year's review, and a synthetic export played from a plan.
"""
