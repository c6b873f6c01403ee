FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY marketplace ./marketplace
COPY experts ./experts
COPY projects ./projects
COPY payments ./payments
RUN pip install --no-cache-dir .
COPY . .
# Static files are collected into the image at build time; the app user never writes to /app.
RUN DEBUG=0 SECRET_KEY=collectstatic-only ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput \
    && useradd --create-home app && mkdir -p /data/private && chown app /data/private
USER app
EXPOSE 8000
CMD ["gunicorn", "marketplace.wsgi:application", "--bind", "0.0.0.0:8000"]
