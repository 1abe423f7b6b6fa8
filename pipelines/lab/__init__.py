"""The lab's command group (`matcher lab ...`) and research scripts: evaluation, comparisons, held-out sets, training on
the shared data, fusion tuning and benchmarks."""
