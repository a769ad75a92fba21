/* gst-room, Kurento control API: error replies. */
#include "errors.h"

namespace kurento {

const char *
error_type_name (int code)
{
  switch (code) {
    case MARSHALL_ERROR:
      return "MARSHALL_ERROR";
    case CONNECT_ERROR:
      return "CONNECT_ERROR";
    case NOT_IMPLEMENTED:
      return "NOT_IMPLEMENTED";
    case MALFORMED_TRANSACTION:
      return "MALFORMED_TRANSACTION";
    case INVALID_SESSION:
      return "INVALID_SESSION";
    case NOT_ENOUGH_RESOURCES:
      return "NOT_ENOUGH_RESOURCES";
    case TYPE_NOT_FOUND:
      return "MEDIA_OBJECT_TYPE_NOT_FOUND";
    case OBJECT_NOT_FOUND:
      return "MEDIA_OBJECT_NOT_FOUND";
    case CONSTRUCTOR_NOT_FOUND:
      return "MEDIA_OBJECT_CONSTRUCTOR_NOT_FOUND";
    case OBJECT_METHOD_NOT_FOUND:
      return "MEDIA_OBJECT_METHOD_NOT_FOUND";
    case EVENT_NOT_SUPPORTED:
      return "MEDIA_OBJECT_EVENT_NOT_SUPPORTED";
    case ILLEGAL_PARAM:
      return "MEDIA_OBJECT_ILLEGAL_PARAM_ERROR";
    case NOT_AVAILABLE:
      return "MEDIA_OBJECT_NOT_AVAILABLE";
    case SDP_PROCESS_OFFER:
      return "SDP_END_POINT_PROCESS_OFFER_ERROR";
    case SDP_ALREADY_NEGOTIATED:
      return "SDP_END_POINT_ALREADY_NEGOTIATED";
    case ICE_ADD_CANDIDATE:
      return "ICE_ADD_CANDIDATE_ERROR";
    case URI_PATH_FILE_NOT_FOUND:
      return "URI_PATH_FILE_NOT_FOUND";
    default:
      return "UNEXPECTED_ERROR";
  }
}

nlohmann::json
Error::to_json () const
{
  nlohmann::json e = {{"code", code}, {"message", message}};
  if (code > 0)
    e["data"] = {{"type", error_type_name (code)}};
  return e;
}

} // namespace kurento
