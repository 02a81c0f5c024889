"""What a run shows: the terminal summary, the HTML report, the charts, and the way back from
a run folder (`RunView`).
"""
