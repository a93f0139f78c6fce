// Filled by the SimNet issue.
