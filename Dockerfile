FROM python:3.12-slim-bookworm

# libzbar0: camera barcode decoding; gettext: compiled translations.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libzbar0 gettext \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN DEBUG=false python manage.py collectstatic --noinput --verbosity 0 \
    && python manage.py compilemessages --ignore .venv --verbosity 0

# var/media exists in the image so that the compose volume mounted there starts owned by the app user.
RUN useradd --system --home /app supermarket && mkdir -p /app/var/media && chown -R supermarket /app/var
USER supermarket
EXPOSE 8000
CMD ["gunicorn", "-c", "supermarket/gunicorn.conf.py", "supermarket.wsgi"]
