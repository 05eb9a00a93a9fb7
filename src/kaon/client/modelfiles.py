"""A trained model's files (what serving places beside model.py: the trial's `model/`
folder) fetched to a local folder, for what the client makes of them: an MLflow model served
from a model id (kaon.client.mlflowbundle), a kaon model exported as an MLflow model
(kaon.client.mlflowexport)."""

from __future__ import annotations

from pathlib import Path

from kaon.client.models import JobInfo
from kaon.client.rest import RestApi
from kaon.core.errors import NotFound


def fetch_model(api: RestApi, workspace: str, model_id: str, dest: Path) -> JobInfo:
    """The files of `model_id` (a model of `workspace`) into `dest`; the job that made it
    (its trials: only that model's)."""
    from kaon.client import download

    found = api.get_model(workspace, model_id)  # a model not of this workspace fails here
    trial = found.trials[0] if found.trials else None
    if trial is None or not trial.model_commit or not trial.model_path:
        raise NotFound(f"model {model_id} has no stored files: see `kaon train info`")
    repo = f"{found.workspace}-models"
    download.get_dir(api, repo, trial.model_commit, f"{trial.model_path}/model", dest)
    return found
