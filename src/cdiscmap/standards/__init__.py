"""Standard metadata (SDTMIG, ADaMIG, controlled terminology) loaded from ``specs/``.

Other modules ask here for dataset, variable and codelist facts instead of hard-coding them::

    from cdiscmap.standards import load_standards
    ae = load_standards().dataset("AE")
"""

from cdiscmap.standards.custom import CustomDomain, with_custom_domains
from cdiscmap.standards.loader import load_standards, specs_dir
from cdiscmap.standards.models import Codelist, Dataset, Standards, Term, Variable

__all__ = ["Codelist", "CustomDomain", "Dataset", "Standards", "Term", "Variable",
           "load_standards", "specs_dir", "with_custom_domains"]
