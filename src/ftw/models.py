"""Every table, imported in one place for Alembic and the tests."""

from ftw.accounts.models import RefreshToken, User
from ftw.core.db import Base
from ftw.jobs.models import Job, JobPhoto
from ftw.territories.models import Territory

metadata = Base.metadata

__all__ = ["Job", "JobPhoto", "RefreshToken", "Territory", "User", "metadata"]
