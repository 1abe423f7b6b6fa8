"""The office's workflow over the engine: demand catalogue, open-licence campaigns and digests, licence fit, outcomes."""
