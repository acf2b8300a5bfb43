# One image for every Todoke service; the command picks hub, node or sandbox.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY contracts contracts
COPY hub hub
COPY municipal_node municipal_node
COPY line_sandbox line_sandbox
COPY todoke todoke
RUN pip install --no-cache-dir -c constraints.txt . \
 && useradd --create-home --uid 10001 todoke
USER todoke
ENTRYPOINT ["todoke"]
