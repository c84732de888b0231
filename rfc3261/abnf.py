"""The RFC 3261 §25 grammar as regular-expression strings (RFC 3261 §25, §19.1, RFC 5954).

One string per ABNF rule, named after the rule (hyphens become underscores), with
the RFC's ABNF quoted above it. Nothing here is compiled: the modules that parse
compile the rules they need, anchored as they need them (usually ``fullmatch``).
The strings contain no named groups, so they can be pasted into bigger patterns
freely; users add their own named groups around them.

Theory of operation
-------------------
* Text, not octets. The patterns are ``str`` patterns applied to the decoded
  message. Any code point from U+0080 up stands for ``UTF8-NONASCII`` /
  ``UTF8-CONT``: whether those octets form valid UTF-8 is the decoder's business,
  not the grammar's (so a message decoded as Latin-1 or with ``surrogateescape``
  still matches).
* Case. ABNF quoted strings are case-insensitive (RFC 2234 §2.3), so ``"sip:"``
  matches ``SIP:`` and ``"transport="`` matches ``Transport=``; those literals are
  written with ``(?i:...)``. ``%x`` literals (the method names) are case-sensitive.
* No catastrophic backtracking. Each repeated group has alternatives that start
  with different characters, and runs of one character class use possessive
  quantifiers (``*+``, ``++``, Python 3.11) or atomic groups (``(?>...)``) where
  giving back characters could never produce a match anyway. The tests feed every
  rule a ~100 KB adversarial string and require it to finish quickly.
* Deviations from the letter of the grammar are argued in a comment beside the rule.
* Rules whose alternatives are all special cases of a general one (uri-parameter,
  via-params, dig-resp, Method...) are written as the general rule; the code that knows
  a parameter's name validates its value with the specific rule (``ttl``, ``host``...).
"""

from __future__ import annotations

# ---------------------------------------------------------------------------
# Character classes (contents of a ``[...]``), shared by the rules below.
# ---------------------------------------------------------------------------

_ALPHANUM = "A-Za-z0-9"
_MARK = r"\-_.!~*'()"
_UNRESERVED = _ALPHANUM + _MARK
_RESERVED = r";/?:@&=+$,"
_TOKEN_CHARS = _ALPHANUM + r"\-.!%*_+`'~"
_WORD_CHARS = _TOKEN_CHARS + r"()<>:\\\"/\[\]?{}"
_USER_UNRESERVED = r"&=+$,;?/"
_PARAM_UNRESERVED = r"\[\]/:&+$"
_HNV_UNRESERVED = r"\[\]/?:+$"
# Every code point from U+0080: stands for UTF8-NONASCII / UTF8-CONT (see above).
_NONASCII = "\x80-\U0010ffff"

# Rules of the form 1*( chars / escaped ) are written "(?:[chars]++|escaped)++": a run of
# literal characters is consumed in one step. The language is the same, and as "%" is not
# in [chars] the two alternatives never compete, so matching stays linear.

# ---------------------------------------------------------------------------
# §25.1 Basic rules
# ---------------------------------------------------------------------------

# RFC 2234 §6.1 core rules used throughout.
DIGIT = r"[0-9]"
HEXDIG = r"[0-9A-Fa-f]"
SP = r" "
HTAB = r"\t"
WSP = r"[ \t]"
CRLF = r"\r\n"

# https://www.rfc-editor.org/rfc/rfc3261#section-25.1
#   alphanum  =  ALPHA / DIGIT
alphanum = f"[{_ALPHANUM}]"

#   reserved    =  ";" / "/" / "?" / ":" / "@" / "&" / "=" / "+" / "$" / ","
reserved = f"[{_RESERVED}]"

#   mark        =  "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"
mark = f"[{_MARK}]"

#   unreserved  =  alphanum / mark
unreserved = f"[{_UNRESERVED}]"

#   escaped     =  "%" HEXDIG HEXDIG
escaped = r"%[0-9A-Fa-f]{2}"

#   LWS  =  [*WSP CRLF] 1*WSP ; linear whitespace
# Atomic: whitespace is never followed by a rule that could start with WSP.
LWS = r"(?>(?:[ \t]*+\r\n)?[ \t]++)"

#   SWS  =  [LWS] ; sep whitespace
SWS = f"(?:{LWS})?"

#   HCOLON  =  *( SP / HTAB ) ":" SWS
HCOLON = f"[ \\t]*+:{SWS}"

#   UTF8-NONASCII = %xC0-DF 1UTF8-CONT / ... ;  UTF8-CONT = %x80-BF
# Decoded text: one non-ASCII code point per UTF-8 sequence (see the module docstring).
UTF8_NONASCII = f"[{_NONASCII}]"
UTF8_CONT = UTF8_NONASCII

#   TEXT-UTF8char   =  %x21-7E / UTF8-NONASCII
TEXT_UTF8char = f"[\\x21-\\x7e{_NONASCII}]"

#   TEXT-UTF8-TRIM  =  1*TEXT-UTF8char *(*LWS TEXT-UTF8char)
# Written as runs of TEXT-UTF8char separated by LWS, which is the same language and
# cannot backtrack exponentially (the runs and the LWS start with disjoint classes).
TEXT_UTF8_TRIM = f"{TEXT_UTF8char}++(?:{LWS}{TEXT_UTF8char}++)*+"

#   LHEX  =  DIGIT / %x61-66 ;lowercase a-f
LHEX = r"[0-9a-f]"

#   token  =  1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" )
token = f"[{_TOKEN_CHARS}]++"

#   separators  =  "(" / ")" / "<" / ">" / "@" / "," / ";" / ":" / "\" / DQUOTE /
#                  "/" / "[" / "]" / "?" / "=" / "{" / "}" / SP / HTAB
separators = r"[()<>@,;:\\\"/\[\]?={} \t]"

#   word  =  1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" /
#              "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" /
#              "{" / "}" )
word = f"[{_WORD_CHARS}]++"

#   STAR    =  SWS "*" SWS ; asterisk
STAR = f"{SWS}\\*{SWS}"
#   SLASH   =  SWS "/" SWS ; slash
SLASH = f"{SWS}/{SWS}"
#   EQUAL   =  SWS "=" SWS ; equal
EQUAL = f"{SWS}={SWS}"
#   LPAREN  =  SWS "(" SWS ; left parenthesis
LPAREN = f"{SWS}\\({SWS}"
#   RPAREN  =  SWS ")" SWS ; right parenthesis
RPAREN = f"{SWS}\\){SWS}"
#   RAQUOT  =  ">" SWS ; right angle quote
RAQUOT = f">{SWS}"
#   LAQUOT  =  SWS "<"; left angle quote
LAQUOT = f"{SWS}<"
#   COMMA   =  SWS "," SWS ; comma
COMMA = f"{SWS},{SWS}"
#   SEMI    =  SWS ";" SWS ; semicolon
SEMI = f"{SWS};{SWS}"
#   COLON   =  SWS ":" SWS ; colon
COLON = f"{SWS}:{SWS}"
#   LDQUOT  =  SWS DQUOTE; open double quotation mark
LDQUOT = f'{SWS}"'
#   RDQUOT  =  DQUOTE SWS ; close double quotation mark
RDQUOT = f'"{SWS}'

##= https://www.rfc-editor.org/rfc/rfc3261#section-25.1
##% The backslash character ("\") MAY be used as a single-character
##% quoting mechanism only within quoted-string and comment constructs.
##= https://www.rfc-editor.org/rfc/rfc3261#section-25.1
##% Unlike HTTP/1.1, the characters CR and LF cannot be escaped by this
##% mechanism to avoid conflict with line folding and header separation.
#   quoted-pair  =  "\" (%x00-09 / %x0B-0C / %x0E-7F)
quoted_pair = r"\\[\x00-\x09\x0b\x0c\x0e-\x7f]"

#   qdtext  =  LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII
# LWS is split into its characters: single SP / HTAB, and a fold "CRLF WSP". This is the
# same language, and each alternative starts with a different character, so the
# repetition in quoted-string is linear.
qdtext = f"(?:[ \\t\\x21\\x23-\\x5b\\x5d-\\x7e{_NONASCII}]|\\r\\n[ \\t])"

#   quoted-string  =  SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE
quoted_string = f'{SWS}"(?:{qdtext}|{quoted_pair})*+"'

# Same without the leading SWS: the quoted string proper, for use where the
# surrounding rule already consumed the whitespace.
quoted_string_bare = f'"(?:{qdtext}|{quoted_pair})*+"'

#   ctext  =  %x21-27 / %x2A-5B / %x5D-7E / UTF8-NONASCII / LWS
ctext = f"(?:[ \\t\\x21-\\x27\\x2a-\\x5b\\x5d-\\x7e{_NONASCII}]|\\r\\n[ \\t])"


def _nested_comment(depth: int) -> str:
    """``comment`` allowing ``depth`` levels of nesting (regexes cannot count)."""
    inner = f"(?:{ctext}|{quoted_pair})*+"
    pattern = f"\\({inner}\\)"
    for _ in range(depth - 1):
        pattern = f"\\((?:{ctext}|{quoted_pair}|{pattern})*+\\)"
    return pattern


#   comment  =  LPAREN *(ctext / quoted-pair / comment) RPAREN
# Deviation: a comment nests, and nesting to any depth is not a regular language. This
# pattern accepts up to 8 levels, which covers every comment seen in practice (Server,
# User-Agent, Retry-After, Via). Code that must accept any depth scans the text itself:
# walk from "(" keeping a depth counter, skip the character after each "\" (quoted-pair),
# +1 on "(", -1 on ")", stop at depth 0; every other character must match ``ctext``.
# LPAREN/RPAREN's SWS is left to the caller, as in the other rules that embed comment.
comment = _nested_comment(8)

# ---------------------------------------------------------------------------
# §25.1 Hosts (with the RFC 5954 correction)
# ---------------------------------------------------------------------------

##= https://www.rfc-editor.org/rfc/rfc5954#section-4.1
##% Accordingly, this document updates RFC 3261 as follows:  the
##% <IPv6address> and <IPv4address> production rules from RFC 3261 MUST
##% NOT be used and instead, the production rules of the same name in RFC
##% 3986 (and reproduced above) MUST be used.
##= https://www.rfc-editor.org/rfc/rfc5954#section-4.1
##% This will render
##% <hexpart>, <hexseq>, and <hex4> production rules in RFC 3261
##% obsolete; as such, these three production rules -- namely, <hexpart>,
##% <hexseq>, and <hex4> -- from RFC 3261 MUST NOT be used.
# RFC 3986 Appendix A, as reproduced in RFC 5954 §4.1:
#   dec-octet  = DIGIT / %x31-39 DIGIT / "1" 2DIGIT / "2" %x30-34 DIGIT / "25" %x30-35
dec_octet = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"

#   IPv4address  = dec-octet "." dec-octet "." dec-octet "." dec-octet
# RFC 5954 §4.1 replaces RFC 3261's "1*3DIGIT ..." rule: "sip:bob@444.555.666.777" is
# no longer a syntactically valid URI. The lookahead keeps "1.2.3.4" from being taken
# as the prefix of "1.2.3.45" when another rule follows.
IPv4address = f"{dec_octet}\\.{dec_octet}\\.{dec_octet}\\.{dec_octet}(?![0-9])"

#   h16   = 1*4HEXDIG
h16 = r"[0-9A-Fa-f]{1,4}"

#   ls32  = ( h16 ":" h16 ) / IPv4address
ls32 = f"(?:{h16}:{h16}|{IPv4address})"

#   IPv6address =                            6( h16 ":" ) ls32
#               /                       "::" 5( h16 ":" ) ls32
#               / [               h16 ] "::" 4( h16 ":" ) ls32
#               / [ *1( h16 ":" ) h16 ] "::" 3( h16 ":" ) ls32
#               / [ *2( h16 ":" ) h16 ] "::" 2( h16 ":" ) ls32
#               / [ *3( h16 ":" ) h16 ] "::"    h16 ":"   ls32
#               / [ *4( h16 ":" ) h16 ] "::"              ls32
#               / [ *5( h16 ":" ) h16 ] "::"              h16
#               / [ *6( h16 ":" ) h16 ] "::"
# RFC 5954 §4.1: RFC 3261's IPv6address/hexpart/hexseq/hex4 "MUST NOT be used"; this is
# RFC 3986's rule. Every repetition is bounded, so matching is bounded too.
IPv6address = (
    "(?:"
    f"(?:{h16}:){{6}}{ls32}"
    f"|::(?:{h16}:){{5}}{ls32}"
    f"|(?:{h16})?::(?:{h16}:){{4}}{ls32}"
    f"|(?:(?:{h16}:){{0,1}}{h16})?::(?:{h16}:){{3}}{ls32}"
    f"|(?:(?:{h16}:){{0,2}}{h16})?::(?:{h16}:){{2}}{ls32}"
    f"|(?:(?:{h16}:){{0,3}}{h16})?::{h16}:{ls32}"
    f"|(?:(?:{h16}:){{0,4}}{h16})?::{ls32}"
    f"|(?:(?:{h16}:){{0,5}}{h16})?::{h16}"
    f"|(?:(?:{h16}:){{0,6}}{h16})?::"
    ")"
)

# RFC 5118 §4.10 tolerance: RFC 3261's flawed rule generates an extra colon before an
# embedded IPv4 address ("[2001:db8:::192.0.2.1]"), and RFC 5118 says "an implementation
# must tolerate both of the above constructs". This matches exactly that extra-colon form
# (what RFC 3261's "hexseq "::" ":" IPv4address" produces); uri.py drops the extra colon
# when it compares addresses.
IPv6address_extra_colon = f"(?:(?:{h16}:){{0,4}}{h16})?:::{IPv4address}"

# https://www.rfc-editor.org/rfc/rfc3261#section-25.1
#   IPv6reference  =  "[" IPv6address "]"
IPv6reference = f"\\[(?:{IPv6address}|{IPv6address_extra_colon})\\]"

#   domainlabel  =  alphanum / alphanum *( alphanum / "-" ) alphanum
# Written as "a run of alphanum/'-' that neither starts nor ends with '-'": the same
# language, matched possessively in one pass.
domainlabel = f"(?!-)[{_ALPHANUM}-]++(?<!-)"

#   toplabel  =  ALPHA / ALPHA *( alphanum / "-" ) alphanum
toplabel = f"[A-Za-z][{_ALPHANUM}-]*+(?<!-)"

#   hostname  =  *( domainlabel "." ) toplabel [ "." ]
# The toplabel is the last label; the lookahead after each domainlabel "." checks that
# another label follows, and the final "." is optional. Labels are possessive, so a long
# non-hostname fails in linear time.
hostname = f"(?:{domainlabel}\\.(?=[{_ALPHANUM}]))*+{toplabel}\\.?"

#   host  =  hostname / IPv4address / IPv6reference
# A hostname's toplabel starts with ALPHA, so no hostname is (a prefix of) an IPv4
# address, and an IPv6reference starts with "[". IPv4address comes first because it
# fails at once on a name, while hostname reads a whole address before failing on its
# last label; where an address begins a name ("192.0.2.1.example.com") the match goes
# on into hostname.
host = f"(?:{IPv4address}|{hostname}|{IPv6reference})"

#   port  =  1*DIGIT
# The range 0..65535 is checked by the code that converts it.
port = r"[0-9]++"

#   hostport  =  host [ ":" port ]
hostport = f"{host}(?::{port})?"

# ---------------------------------------------------------------------------
# §25.1 SIP and SIPS URIs (§19.1.1)
# ---------------------------------------------------------------------------

#   user-unreserved  =  "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"
user_unreserved = f"[{_USER_UNRESERVED}]"

#   user  =  1*( unreserved / escaped / user-unreserved )
user = f"(?:[{_UNRESERVED}{_USER_UNRESERVED}]++|{escaped})++"

##= https://www.rfc-editor.org/rfc/rfc3261#section-25.1
##= type=implication
##% Note,
##% however, that any characters allowed there that are not allowed in
##% the user part of the SIP URI MUST be escaped.
#   telephone-subscriber: RFC 2806. "any characters allowed there that are not allowed in
#   the user part of the SIP URI MUST be escaped", so once escaped a telephone-subscriber
#   is a ``user``; this module does not parse RFC 2806 (tel: URIs stay opaque).
telephone_subscriber = user

#   password  =  *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )
password = f"(?:[{_UNRESERVED}&=+$,]++|{escaped})*+"

#   userinfo  =  ( user / telephone-subscriber ) [ ":" password ] "@"
userinfo = f"{user}(?::{password})?@"

#   transport-param  =  "transport=" ( "udp" / "tcp" / "sctp" / "tls" / other-transport)
#   other-transport  =  token
transport_param = f"(?i:transport)={token}"

#   user-param  =  "user=" ( "phone" / "ip" / other-user) ;  other-user  =  token
user_param = f"(?i:user)={token}"

#   INVITEm = %x49.4E.56.49.54.45 ... extension-method = token
#   Method  =  INVITEm / ACKm / OPTIONSm / BYEm / CANCELm / REGISTERm / extension-method
# Every named method is also a token, so Method is just token (case-sensitive).
Method = token
extension_method = token

#   method-param  =  "method=" Method
method_param = f"(?i:method)={Method}"

#   ttl  =  1*3DIGIT ; 0 to 255
# The 0..255 range is checked by the code that converts it (SipURI.ttl, Via.ttl).
ttl = r"[0-9]{1,3}+(?![0-9])"

#   ttl-param  =  "ttl=" ttl
ttl_param = f"(?i:ttl)={ttl}"

#   maddr-param  =  "maddr=" host
maddr_param = f"(?i:maddr)={host}"

#   lr-param  =  "lr"
lr_param = r"(?i:lr)"

#   param-unreserved  =  "[" / "]" / "/" / ":" / "&" / "+" / "$"
param_unreserved = f"[{_PARAM_UNRESERVED}]"

#   paramchar  =  param-unreserved / unreserved / escaped
paramchar = f"(?:[{_PARAM_UNRESERVED}{_UNRESERVED}]|{escaped})"

#   pname  =  1*paramchar ;  pvalue  =  1*paramchar
# Runs of literal paramchars are matched in one step (same language, fewer steps).
pname = f"(?:[{_PARAM_UNRESERVED}{_UNRESERVED}]++|{escaped})++"
pvalue = pname

#   other-param  =  pname [ "=" pvalue ]
other_param = f"{pname}(?:={pvalue})?"

#   uri-parameter  =  transport-param / user-param / method-param / ttl-param /
#                     maddr-param / lr-param / other-param
# Every specific parameter is also an other-param (a maddr host and a ttl are strings
# of paramchar), so the union is other-param; the specific rules above are for
# validating a value once its name is known.
uri_parameter = other_param

#   uri-parameters  =  *( ";" uri-parameter)
uri_parameters = f"(?:;{uri_parameter})*+"

#   hnv-unreserved  =  "[" / "]" / "/" / "?" / ":" / "+" / "$"
hnv_unreserved = f"[{_HNV_UNRESERVED}]"

#   hname  =  1*( hnv-unreserved / unreserved / escaped )
hname = f"(?:[{_HNV_UNRESERVED}{_UNRESERVED}]++|{escaped})++"

#   hvalue  =  *( hnv-unreserved / unreserved / escaped )
hvalue = f"(?:[{_HNV_UNRESERVED}{_UNRESERVED}]++|{escaped})*+"

#   header  =  hname "=" hvalue
header = f"{hname}={hvalue}"

#   headers  =  "?" header *( "&" header )
headers = f"\\?{header}(?:&{header})*+"

#   SIP-URI  =  "sip:" [ userinfo ] hostport uri-parameters [ headers ]
SIP_URI = f"(?i:sip):(?:{userinfo})?{hostport}{uri_parameters}(?:{headers})?"

#   SIPS-URI  =  "sips:" [ userinfo ] hostport uri-parameters [ headers ]
SIPS_URI = f"(?i:sips):(?:{userinfo})?{hostport}{uri_parameters}(?:{headers})?"

# ---------------------------------------------------------------------------
# §25.1 absoluteURI (from RFC 2396)
# ---------------------------------------------------------------------------

#   scheme  =  ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
scheme = r"[A-Za-z][A-Za-z0-9+\-.]*+"

#   uric  =  reserved / unreserved / escaped
uric = f"(?:[{_RESERVED}{_UNRESERVED}]|{escaped})"

#   uric-no-slash  =  unreserved / escaped / ";" / "?" / ":" / "@" / "&" / "=" / "+" /
#                     "$" / ","
uric_no_slash = f"(?:[{_UNRESERVED};?:@&=+$,]|{escaped})"

#   pchar  =  unreserved / escaped / ":" / "@" / "&" / "=" / "+" / "$" / ","
pchar = f"(?:[{_UNRESERVED}:@&=+$,]|{escaped})"

#   param  =  *pchar ;  segment  =  *pchar *( ";" param )
segment = f"{pchar}*+(?:;{pchar}*+)*+"

#   path-segments  =  segment *( "/" segment )
path_segments = f"{segment}(?:/{segment})*+"

#   abs-path  =  "/" path-segments
abs_path = f"/{path_segments}"

#   reg-name  =  1*( unreserved / escaped / "$" / "," / ";" / ":" / "@" / "&" / "=" / "+" )
reg_name = f"(?:[{_UNRESERVED}$,;:@&=+]++|{escaped})++"

#   srvr  =  [ [ userinfo "@" ] hostport ] ;  authority  =  srvr / reg-name
# Deviation: srvr's characters are all reg-name characters, so authority is matched as
# reg-name (possibly empty); an absoluteURI stays opaque to this stack.
authority = f"(?:[{_UNRESERVED}$,;:@&=+]++|{escaped})*+"

#   net-path  =  "//" authority [ abs-path ]
net_path = f"//{authority}(?:{abs_path})?"

#   query  =  *uric
query = f"{uric}*+"

#   hier-part  =  ( net-path / abs-path ) [ "?" query ]
hier_part = f"(?:{net_path}|{abs_path})(?:\\?{query})?"

#   opaque-part  =  uric-no-slash *uric
opaque_part = f"{uric_no_slash}{uric}*+"

#   absoluteURI  =  scheme ":" ( hier-part / opaque-part )
absoluteURI = f"{scheme}:(?:{hier_part}|{opaque_part})"

# ---------------------------------------------------------------------------
# §25.1 Start lines (§7.1, §7.2)
# ---------------------------------------------------------------------------

#   Request-URI  =  SIP-URI / SIPS-URI / absoluteURI
# SIP-URI and SIPS-URI are absoluteURIs syntactically too (their characters are uric),
# so they are tried first only to make the intent visible.
Request_URI = f"(?:{SIP_URI}|{SIPS_URI}|{absoluteURI})"

#   SIP-Version  =  "SIP" "/" 1*DIGIT "." 1*DIGIT
# ABNF strings are case-insensitive, and §7.1 says "The SIP-Version string is
# case-insensitive".
SIP_Version = r"(?i:SIP)/[0-9]++\.[0-9]++"

#   Request-Line  =  Method SP Request-URI SP SIP-Version CRLF
# Without the CRLF: the message code splits lines first. The Request-URI is matched as
# "anything but SP" here and parsed by uri.py, which reports a precise defect.
Request_Line = f"{Method} [^ \\r\\n]++ {SIP_Version}"

#   Status-Code  =  Informational / Redirection / Success / Client-Error /
#                   Server-Error / Global-Failure / extension-code
#   extension-code  =  3DIGIT
Status_Code = r"[0-9]{3}+(?![0-9])"

#   Reason-Phrase  =  *(reserved / unreserved / escaped / UTF8-NONASCII / UTF8-CONT /
#                      SP / HTAB)
# "%" is allowed only as part of an escape, as the grammar says.
Reason_Phrase = f"(?:[{_RESERVED}{_UNRESERVED} \\t{_NONASCII}]++|{escaped})*+"

#   Status-Line  =  SIP-Version SP Status-Code SP Reason-Phrase CRLF
# Without the CRLF, as for Request-Line.
Status_Line = f"{SIP_Version} {Status_Code} {Reason_Phrase}"

# ---------------------------------------------------------------------------
# §25.1 Header field building blocks
# ---------------------------------------------------------------------------

#   header-name  =  token
header_name = token

#   header-value  =  *(TEXT-UTF8char / UTF8-CONT / LWS)
header_value = f"(?:[\\x21-\\x7e \\t{_NONASCII}]|\\r\\n[ \\t])*+"

##= https://www.rfc-editor.org/rfc/rfc3261#section-25.1
##% These special characters MUST be in a quoted string to
##% be used within a parameter value.
#   gen-value  =  token / host / quoted-string
# host is tried before token only to make the intent visible: an IPv6reference is the
# one host form that is not a token.
gen_value = f"(?:{token}|{IPv6reference}|{quoted_string_bare})"

#   generic-param  =  token [ EQUAL gen-value ]
generic_param = f"{token}(?:{EQUAL}{gen_value})?"

#   display-name  =  *(token LWS)/ quoted-string
# Deviation: written as tokens separated by LWS with optional trailing LWS. The ABNF's
# "*(token LWS)" demands LWS after the last token, which LAQUOT's SWS would consume
# anyway; RFC 4475 §3.1.1.6 ("lwsdisp") has no LWS between display name and "<" and
# is valid.
display_name = f"(?:{token}(?:{LWS}{token})*+{LWS}?|{quoted_string_bare}{SWS})"

#   addr-spec  =  SIP-URI / SIPS-URI / absoluteURI
addr_spec = f"(?:{SIP_URI}|{SIPS_URI}|{absoluteURI})"

#   name-addr  =  [ display-name ] LAQUOT addr-spec RAQUOT
name_addr = f"(?:{display_name})?{LAQUOT}{addr_spec}{RAQUOT}"

#   delta-seconds  =  1*DIGIT
delta_seconds = r"[0-9]++"

#   qvalue  =  ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
qvalue = r"(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)(?![0-9])"

#   callid  =  word [ "@" word ]
callid = f"{word}(?:@{word})?"

#   tag-param  =  "tag" EQUAL token
tag_param = f"(?i:tag){EQUAL}{token}"

# Via (§20.42):
#   protocol-name  =  "SIP" / token ;  protocol-version  =  token
protocol_name = token
protocol_version = token

#   transport  =  "UDP" / "TCP" / "TLS" / "SCTP" / other-transport
transport = token

#   sent-protocol  =  protocol-name SLASH protocol-version SLASH transport
sent_protocol = f"{protocol_name}{SLASH}{protocol_version}{SLASH}{transport}"

#   sent-by  =  host [ COLON port ]
sent_by = f"{host}(?:{COLON}{port})?"

#   via-ttl  =  "ttl" EQUAL ttl
via_ttl = f"(?i:ttl){EQUAL}{ttl}"

#   via-maddr  =  "maddr" EQUAL host
via_maddr = f"(?i:maddr){EQUAL}{host}"

#   via-received  =  "received" EQUAL (IPv4address / IPv6address)
# RFC 5118 §4.5: the grammar has no brackets here, yet about half of all senders write
# "received=[2001:db8::9:255]"; implementations "must follow the Robustness Principle
# [RFC1122] and be liberal in accepting a "received" parameter with or without the
# delimiting "[" and "]" tokens", so the IPv6reference form is accepted too (senders must
# still write the address without brackets).
via_received = f"(?i:received){EQUAL}(?:{IPv4address}|{IPv6address}|{IPv6reference})"

#   via-branch  =  "branch" EQUAL token
via_branch = f"(?i:branch){EQUAL}{token}"

#   via-extension  =  generic-param
via_extension = generic_param

#   via-params  =  via-ttl / via-maddr / via-received / via-branch / via-extension
# As with uri-parameter, every specific via-param is also a generic-param (an IPv6
# received value is a gen-value only in brackets, hence the explicit via-received).
via_params = f"(?:{via_received}|{generic_param})"

#   via-parm  =  sent-protocol LWS sent-by *( SEMI via-params )
via_parm = f"{sent_protocol}{LWS}{sent_by}(?:{SEMI}{via_params})*+"

# CSeq (§20.16):
#   CSeq  =  "CSeq" HCOLON 1*DIGIT LWS Method
CSeq_value = f"[0-9]++{LWS}{Method}"

# Content-Type (§20.15):
#   m-type = discrete-type / composite-type ; both are names or extension-token = token
#   m-subtype  =  extension-token / iana-token
m_type = token
m_subtype = token

#   m-attribute  =  token ;  m-value  =  token / quoted-string
m_attribute = token
m_value = f"(?:{token}|{quoted_string_bare})"

#   m-parameter  =  m-attribute EQUAL m-value
m_parameter = f"{m_attribute}{EQUAL}{m_value}"

#   media-type  =  m-type SLASH m-subtype *(SEMI m-parameter)
media_type = f"{m_type}{SLASH}{m_subtype}(?:{SEMI}{m_parameter})*+"

#   media-range  =  ( "*/*" / ( m-type SLASH "*" ) / ( m-type SLASH m-subtype ) )
#                   *( SEMI m-parameter )
# "*" is a token character, so "*/*" and "type/*" are already m-type SLASH m-subtype.
media_range = media_type

#   accept-param  =  ("q" EQUAL qvalue) / generic-param
accept_param = generic_param

#   option-tag  =  token
option_tag = token

#   content-coding  =  token
content_coding = token

#   language-range  =  ( ( 1*8ALPHA *( "-" 1*8ALPHA ) ) / "*" )
language_range = r"(?:[A-Za-z]{1,8}+(?:-[A-Za-z]{1,8}+)*+(?![A-Za-z])|\*)"

#   language-tag  =  primary-tag *( "-" subtag ) ; primary-tag = subtag = 1*8ALPHA
language_tag = r"[A-Za-z]{1,8}+(?:-[A-Za-z]{1,8}+)*+(?![A-Za-z])"

# Authentication (§20.7, §20.27, §20.44, §25.1):
#   auth-scheme  =  token ;  auth-param-name  =  token
auth_scheme = token
auth_param_name = token

#   auth-param  =  auth-param-name EQUAL ( token / quoted-string )
auth_param = f"{auth_param_name}{EQUAL}(?:{token}|{quoted_string_bare})"

#   nonce-value  =  quoted-string
nonce_value = quoted_string_bare

#   nc-value  =  8LHEX
nc_value = r"[0-9a-f]{8}+(?![0-9a-f])"

#   request-digest  =  LDQUOT 32LHEX RDQUOT
request_digest = f"{LDQUOT}[0-9a-f]{{32}}{RDQUOT}"

#   qop-value  =  "auth" / "auth-int" / token
qop_value = token

#   dig-resp  =  username / realm / nonce / digest-uri / dresponse / algorithm / cnonce /
#                opaque / message-qop / nonce-count / auth-param
# Each named dig-resp is an auth-param-name EQUAL (token / quoted-string); their value
# rules are checked after the name is known, so the list is matched as auth-params.
dig_resp = auth_param

#   digest-response  =  dig-resp *(COMMA dig-resp)
digest_response = f"{dig_resp}(?:{COMMA}{dig_resp})*+"

#   digest-cln  =  realm / domain / nonce / opaque / stale / algorithm / qop-options /
#                  auth-param
digest_cln = auth_param

#   credentials  =  ("Digest" LWS digest-response) / other-response
#   other-response  =  auth-scheme LWS auth-param *(COMMA auth-param)
credentials = f"{auth_scheme}{LWS}{auth_param}(?:{COMMA}{auth_param})*+"

#   challenge  =  ("Digest" LWS digest-cln *(COMMA digest-cln)) / other-challenge
#   other-challenge  =  auth-scheme LWS auth-param *(COMMA auth-param)
challenge = credentials

# Date (§20.17):
#   wkday  =  "Mon" / "Tue" / "Wed" / "Thu" / "Fri" / "Sat" / "Sun"
wkday = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"

#   month  =  "Jan" / "Feb" / "Mar" / "Apr" / "May" / "Jun" / "Jul" / "Aug" / "Sep" /
#             "Oct" / "Nov" / "Dec"
month = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"

#   date1  =  2DIGIT SP month SP 4DIGIT
date1 = f"[0-9]{{2}} {month} [0-9]{{4}}"

#   time  =  2DIGIT ":" 2DIGIT ":" 2DIGIT
time = r"[0-9]{2}:[0-9]{2}:[0-9]{2}"

#   rfc1123-date  =  wkday "," SP date1 SP time SP "GMT"
# The day and month names are ABNF strings and hence case-insensitive in principle; the
# pattern keeps RFC 1123's capitalisation, which is what every sender writes.
# "GMT" is required: RFC 4475 §3.1.2.12 ("baddate", "EST") is invalid.
rfc1123_date = f"{wkday}, {date1} {time} GMT"

#   SIP-date  =  rfc1123-date
SIP_date = rfc1123_date

# Warning (§20.43):
#   warn-code  =  3DIGIT ;  pseudonym  =  token ;  warn-text  =  quoted-string
warn_code = r"[0-9]{3}+(?![0-9])"
pseudonym = token
warn_text = quoted_string_bare

#   warn-agent  =  hostport / pseudonym
warn_agent = f"(?:{hostport}|{pseudonym})"

#   warning-value  =  warn-code SP warn-agent SP warn-text
warning_value = f"{warn_code} {warn_agent} {warn_text}"

# Retry-After (§20.33):
#   Retry-After  =  "Retry-After" HCOLON delta-seconds [ comment ] *( SEMI retry-param )
#   retry-param  =  ("duration" EQUAL delta-seconds) / generic-param
retry_param = generic_param
Retry_After_value = f"{delta_seconds}(?:{SWS}{comment})?(?:{SEMI}{retry_param})*+"

# Timestamp (§20.38):
#   delay  =  *(DIGIT) [ "." *(DIGIT) ]
delay = r"[0-9]*+(?:\.[0-9]*+)?"

#   Timestamp  =  "Timestamp" HCOLON 1*(DIGIT) [ "." *(DIGIT) ] [ LWS delay ]
Timestamp_value = f"[0-9]++(?:\\.[0-9]*+)?(?:{LWS}{delay})?"

# Server / User-Agent (§20.35, §20.41):
#   product  =  token [SLASH product-version] ;  product-version  =  token
product = f"{token}(?:{SLASH}{token})?"

#   server-val  =  product / comment
server_val = f"(?:{product}|{comment})"
