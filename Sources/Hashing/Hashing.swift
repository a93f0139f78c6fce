// Filled by the Hashing part of the Consensus issue.
