// Filled by the DurableLog part of the Consensus issue.
