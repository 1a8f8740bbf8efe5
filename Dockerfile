# Reelay production image: migrate, then serve with gunicorn as a non-root user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FLASK_APP=wsgi \
    REELAY_ENV=production

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

RUN useradd --create-home --uid 10001 reelay
COPY --chown=reelay:reelay . .
RUN mkdir -p /app/instance && chown reelay:reelay /app/instance
USER reelay

EXPOSE 8000
# SECRET_KEY, DATABASE_URL and provider keys come from the environment at run time.
CMD ["sh", "-c", "flask db upgrade && exec gunicorn --config gunicorn.conf.py wsgi:app"]
