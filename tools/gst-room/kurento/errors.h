/* gst-room, Kurento control API: the errors a reply can carry, with the codes
 * and data.type names kurento-client knows (../shared/KURENTO-PROTOCOL.md
 * §1.4). */
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace kurento {

enum ErrorCode {
  /* JSON-RPC 2.0's own */
  PARSE_ERROR = -32700,
  INVALID_REQUEST = -32600,
  METHOD_NOT_FOUND = -32601,
  INVALID_PARAMS = -32602,
  /* Kurento's */
  MARSHALL_ERROR = 40001,
  UNEXPECTED = 40003,
  CONNECT_ERROR = 40004,
  NOT_IMPLEMENTED = 40006,
  INVALID_SESSION = 40007,
  MALFORMED_TRANSACTION = 40008,
  NOT_ENOUGH_RESOURCES = 40009,
  TYPE_NOT_FOUND = 40100,
  OBJECT_NOT_FOUND = 40101,
  CONSTRUCTOR_NOT_FOUND = 40104,
  OBJECT_METHOD_NOT_FOUND = 40105,
  EVENT_NOT_SUPPORTED = 40106,
  ILLEGAL_PARAM = 40107,
  NOT_AVAILABLE = 40108,
  SDP_PROCESS_OFFER = 40205,
  SDP_ALREADY_NEGOTIATED = 40208,
  ICE_ADD_CANDIDATE = 40401,
  URI_PATH_FILE_NOT_FOUND = 40600,
};

/* What a method failed with: becomes the reply's "error". */
struct Error {
  int code = UNEXPECTED;
  std::string message;

  /* The "error" member of a reply: {code, message, data: {type}} (JSON-RPC's
   * own codes carry no data). */
  nlohmann::json to_json () const;
};

/* Kurento's name for @code, as data.type ("MEDIA_OBJECT_NOT_FOUND"). */
const char *error_type_name (int code);

} // namespace kurento
