// Filled by the TrackerStateMachine issue.
