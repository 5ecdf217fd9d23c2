"""Validates OSCAL JSON files with compliance-trestle: the pydantic models of OSCAL 1.1.3 (every
field, type, pattern and enum; no unknown field) and trestle's own validators (duplicate uuids,
references, links, catalog). One process for all files, so the models load once.

    python oscal_validate.py file.json...   prints one JSON line: {"trestle": version, "oscal": version, "files": {file: [problems]}}
"""
import json
import logging
import pathlib
import sys

import trestle
import trestle.core.validator_factory as vfact
from trestle.common.const import VAL_MODE_ALL
from trestle.oscal import OSCAL_VERSION
from trestle.oscal.assessment_plan import AssessmentPlan
from trestle.oscal.assessment_results import AssessmentResults
from trestle.oscal.catalog import Catalog

MODELS = {'catalog': Catalog, 'assessment-plan': AssessmentPlan, 'assessment-results': AssessmentResults}
logging.disable(logging.WARNING)  # problems are reported in the JSON line, not the log


def problems(path: pathlib.Path) -> list:
    root = next(iter(json.loads(path.read_text())), None)
    model_class = MODELS.get(root)
    if model_class is None:
        return [f'unknown OSCAL model {root!r}']
    try:
        model = model_class.oscal_read(path)
    except Exception as e:  # pydantic's ValidationError, wrapped by trestle
        return [str(e)]
    validator = vfact.validator_factory.get(type('Args', (), {'mode': VAL_MODE_ALL})())
    if not validator.model_is_valid(model, True, None):
        return [f'trestle validator failed: {validator.error_msg()}']
    return []


print(json.dumps({'trestle': trestle.__version__, 'oscal': OSCAL_VERSION, 'files': {f: problems(pathlib.Path(f)) for f in sys.argv[1:]}}))
