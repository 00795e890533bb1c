/// `/strata/openapi.json`: strata's own endpoints, as OpenAPI 3.0. Docker's endpoints are
/// Docker's (docs.docker.com/reference/api/engine/version/v1.44); these are the ones it lacks.
enum OpenAPIDocument {
    static let json = #"""
{
  "openapi": "3.0.3",
  "info": {
    "title": "strata's own endpoints",
    "version": "1.0.0",
    "description": "Beside Docker's Engine API 1.44, strata serve answers these. An environment is named by \"path\" (an absolute manifest path; its lockfile and files beside it, as the CLI uses them) or given whole as \"manifest\" (kept in the store by its content, with \"name\"). Nothing authenticates a client: whoever can open the socket can do anything root can."
  },
  "paths": {
    "/strata/environments/lock": {
      "post": {
        "summary": "Resolve an environment and write its lockfile (strata lock).",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/LockRequest"}}}},
        "responses": {
          "200": {"description": "The lockfile", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/LockResult"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "500": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/strata/environments/build": {
      "post": {
        "summary": "Fetch, verify and unpack what the lockfile pins (strata build); re-locks a stale lockfile first.",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Environment"}}}},
        "responses": {
          "200": {"description": "The built snapshot", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BuildResult"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "500": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/strata/environments/run": {
      "post": {
        "summary": "Run a command in a new session of the environment (strata run), streaming its output.",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RunRequest"}}}},
        "responses": {
          "200": {
            "description": "JSON lines: output chunks, then the exit code (or an error).",
            "content": {"application/x-ndjson": {"schema": {"$ref": "#/components/schemas/RunEvent"}}}
          },
          "400": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/strata/cli": {
      "post": {
        "summary": "Run a strata command in the daemon (what the CLI does with STRATA_HOST set).",
        "description": "The connection is taken over after the response head (101 with Upgrade: tcp, else 200): what the client sends is framed (stream 0: stdin; stream 4: {\"Rows\": R, \"Columns\": C}, a new terminal size; a half-close ends stdin); the command's stdout and stderr come back as stdcopy frames (8-byte header: stream 1 or 2, three zero bytes, big-endian length), and a last frame of stream 3 holds {\"ExitCode\": N}.",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CLIRequest"}}}},
        "responses": {
          "101": {"description": "The stream, as described"},
          "200": {"description": "The stream, as described"},
          "400": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/strata/openapi.json": {
      "get": {"summary": "This document.", "responses": {"200": {"description": "OpenAPI 3.0", "content": {"application/json": {}}}}}
    }
  },
  "components": {
    "responses": {
      "Error": {"description": "What went wrong, in one sentence", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    },
    "schemas": {
      "Error": {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}},
      "Environment": {
        "type": "object",
        "properties": {
          "path": {"type": "string", "description": "Absolute path of the manifest (envs/NAME.json)."},
          "manifest": {"type": "object", "additionalProperties": true, "description": "The manifest itself, when there is no file."},
          "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$", "description": "The environment's name, with manifest."}
        }
      },
      "LockRequest": {
        "allOf": [{"$ref": "#/components/schemas/Environment"}, {"type": "object", "properties": {"update": {"type": "boolean", "description": "Move every package to the archive's current version."}}}]
      },
      "LockResult": {
        "type": "object",
        "required": ["manifest", "lockfile", "written", "lock"],
        "properties": {
          "manifest": {"type": "string"}, "lockfile": {"type": "string"}, "written": {"type": "boolean"},
          "lock": {"type": "object", "additionalProperties": true}
        }
      },
      "BuildResult": {
        "type": "object",
        "required": ["manifest", "lockfile", "snapshot", "warnings"],
        "properties": {
          "manifest": {"type": "string"}, "lockfile": {"type": "string"},
          "snapshot": {"type": "string", "pattern": "^sha256:[0-9a-f]{64}$"},
          "warnings": {"type": "array", "items": {"type": "string"}}
        }
      },
      "RunRequest": {
        "allOf": [{"$ref": "#/components/schemas/Environment"}, {"type": "object", "properties": {
          "command": {"type": "array", "items": {"type": "string"}, "description": "The command; none runs the image's or the manifest's."},
          "stdin": {"type": "string", "description": "The command's whole stdin."}
        }}]
      },
      "RunEvent": {
        "type": "object",
        "properties": {
          "stream": {"type": "string", "enum": ["stdout", "stderr"]}, "data": {"type": "string"},
          "exitCode": {"type": "integer"}, "error": {"type": "string"}
        }
      },
      "CLIRequest": {
        "type": "object",
        "required": ["Args"],
        "properties": {
          "Args": {"type": "array", "items": {"type": "string"}, "minItems": 1, "description": "strata's arguments, without \"strata\"."},
          "WorkingDir": {"type": "string", "description": "The caller's working directory (absolute)."},
          "Env": {"type": "array", "items": {"type": "string"}, "description": "The caller's KEY=VALUE variables."},
          "Tty": {"type": "boolean"}, "Rows": {"type": "integer"}, "Columns": {"type": "integer"}
        }
      }
    }
  }
}
"""#
}
