# Turns the file IN into a C source OUT defining
#   const char gw_openapi_json[]; const unsigned long gw_openapi_json_len;
file(READ ${IN} _hex HEX)
string(LENGTH "${_hex}" _n)
math(EXPR _len "${_n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," _bytes "${_hex}")
file(WRITE ${OUT} "/* Generated from gateway/openapi.json. */\n"
  "const char gw_openapi_json[] = {${_bytes}0x00};\n"
  "const unsigned long gw_openapi_json_len = ${_len};\n")
