"""The outsource workflow applied: engagements and their actions, partners, costs, questions, and what
pages and the dashboard read.
"""
