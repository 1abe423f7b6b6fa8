"""Scale-out on Ray: the nightly job's chunks on Ray actors and a build's segmentation and encoding on Ray Data."""
