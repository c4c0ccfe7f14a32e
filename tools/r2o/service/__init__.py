"""The product service (`r2o serve`): the r2o API, GA4GH WES and TES facades over the local executor."""
