"""From simulated years to answers: the summary (P(hit), attainment, breakdowns, KPIs, impact)
and the paired value of each playbook rule.
"""
