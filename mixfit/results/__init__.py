"""Stage 3, the results: draws in; out, the InferenceData, brms's tables, diagnostics, plots,
summary and report, written atomically into a results folder, and read back from one."""
