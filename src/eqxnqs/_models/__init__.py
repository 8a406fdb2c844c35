"""The wavefunctions: MLPs, DeepSets, the pairwise protocol."""
