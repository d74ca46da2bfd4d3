"""Variant effects: the windows of both alleles of a VCF variant, their scores, and their page.

The stage function is :func:`lociflow.variation.run.variants` (``lociflow.variants``);
:mod:`lociflow.variation.alleles` builds the windows and :mod:`lociflow.variation.page`
the attribution page of the top variants.
"""
