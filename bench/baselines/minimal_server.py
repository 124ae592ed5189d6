"""The least a Python server of the benchmark's model can be: Starlette on uvicorn, the model unpickled with
joblib at import, a readiness route and a predict route, nothing else (no registry, no checks, no log, no
monitoring). bench/serving.py times its start as the floor under every real server's start."""

from __future__ import annotations

import os

import joblib
import pandas as pd
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

model = joblib.load(os.environ["BENCH_MODEL_FILE"])


async def ready(request: Request) -> JSONResponse:
    return JSONResponse({"ready": True})


async def predict(request: Request) -> JSONResponse:
    records = (await request.json())["records"]
    return JSONResponse({"predictions": model.predict(pd.DataFrame.from_records(records)).tolist()})


app = Starlette(routes=[Route("/ready", ready), Route("/predict", predict, methods=["POST"])])
