"""Deployment of the RLM agent: Vertex AI Agent Engine (`deploy.agent_engine`) and Cloud Run
(`deploy.cloud_run`). See `deploy/README.md`.

Nothing here is imported by `rlm_adk`; the package only needs the repository root on `sys.path`
(run the tools as `python -m deploy.<tool>` from the repository root).
"""
