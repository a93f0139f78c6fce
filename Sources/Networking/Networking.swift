// Filled by the tracker-node issue.
