"""Matching: which vetted experts are invited to which open projects, and why (flow 4).

- ``eligibility``: the named rules an expert must pass for a project, as database filters
  (and the same rules over arrays for the global run);
- ``scoring``: the fit score, a weighted sum of named components stored with each invitation;
- ``candidates``: reads every open project and its eligible experts in a few queries;
- ``solver``: the global assignment (min-cost flow with a fairness term) and the baselines;
- ``services``/``selectors``: runs, invitations, seats, exclusions.
"""
