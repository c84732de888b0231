"""Tests for the §25 grammar patterns in rfc3261.abnf: positive and negative cases per rule."""

from __future__ import annotations

import re
import time

import pytest

from rfc3261 import abnf

# (rule, text, matches) — each text is tried with re.fullmatch against the rule.
CASES: list[tuple[str, str, bool]] = [
    # §25.1 basic rules
    ("alphanum", "a", True),
    ("alphanum", "7", True),
    ("alphanum", "-", False),
    ("escaped", "%4a", True),
    ("escaped", "%4G", False),
    ("escaped", "%4", False),
    ("unreserved", "~", True),
    ("unreserved", "@", False),
    ("mark", "(", True),
    ("mark", "a", False),
    ("reserved", "$", True),
    ("reserved", "-", False),
    ("token", "z9hG4bK776asdhds", True),
    ("token", "a.b-c!d%e*f_g+h`i'j~k", True),
    ("token", "", False),
    ("token", "a b", False),
    ("token", "a;b", False),
    ("token", 'a"b', False),
    ("word", "a84b4c76e66710", True),
    ("word", '(a)<b>:\\"/[]?{}', True),
    ("word", "a@b", False),
    ("word", "a b", False),
    ("separators", "@", True),
    ("separators", "\t", True),
    ("separators", "a", False),
    ("LWS", " ", True),
    ("LWS", " \t ", True),
    ("LWS", "\r\n ", True),
    ("LWS", "  \r\n\t", True),
    ("LWS", "\r\n", False),
    ("LWS", "", False),
    ("SWS", "", True),
    ("SWS", " \r\n ", True),
    ("HCOLON", ":", True),
    ("HCOLON", " \t: ", True),
    ("HCOLON", " :\r\n ", True),
    ("HCOLON", "\r\n :", False),
    ("SEMI", " ; ", True),
    ("SEMI", ";", True),
    ("COMMA", " ,\r\n ", True),
    ("EQUAL", " = ", True),
    ("EQUAL", "==", False),
    ("SLASH", "/ ", True),
    ("STAR", " * ", True),
    ("COLON", " : ", True),
    ("LAQUOT", " <", True),
    ("LAQUOT", "< ", False),
    ("RAQUOT", "> ", True),
    ("RAQUOT", " >", False),
    ("LDQUOT", ' "', True),
    ("RDQUOT", '" ', True),
    ("LPAREN", " ( ", True),
    ("RPAREN", " ) ", True),
    ("quoted_pair", '\\"', True),
    ("quoted_pair", "\\\r", False),
    ("quoted_pair", "\\\n", False),
    ("qdtext", "a", True),
    ("qdtext", '"', False),
    ("qdtext", "\\", False),
    ("quoted_string", '"Bob"', True),
    ("quoted_string", ' "Bob \\"B\\" Smith"', True),
    ("quoted_string", '""', True),
    ("quoted_string", '"Zoë \\\\ ☺"', True),
    ("quoted_string", '"folded\r\n line"', True),
    ("quoted_string", '"bare\r\nline"', False),
    ("quoted_string", '"unterminated', False),
    ("quoted_string", '"a"b"', False),
    ("quoted_string", '"ends in escape\\"', False),
    ("ctext", "a", True),
    ("ctext", "(", False),
    ("comment", "(a comment)", True),
    ("comment", "(nested (comments (three deep)))", True),
    ("comment", "(escaped \\) paren)", True),
    ("comment", "(unbalanced (paren)", False),
    ("comment", "no parens", False),
    ("TEXT_UTF8_TRIM", "Ringing now", True),
    ("TEXT_UTF8_TRIM", "Ringing ", False),
    ("TEXT_UTF8_TRIM", "Ein Spaß", True),
    ("LHEX", "f", True),
    ("LHEX", "F", False),
    # hosts (RFC 5954 correction)
    ("dec_octet", "0", True),
    ("dec_octet", "255", True),
    ("dec_octet", "256", False),
    ("dec_octet", "01", False),
    ("IPv4address", "192.0.2.4", True),
    ("IPv4address", "255.255.255.255", True),
    ("IPv4address", "444.555.666.777", False),
    ("IPv4address", "192.0.2", False),
    ("IPv4address", "192.00.2.1", False),
    ("h16", "ffff", True),
    ("h16", "fffff", False),
    ("ls32", "192.0.2.1", True),
    ("ls32", "ab:cd", True),
    ("IPv6address", "2001:db8::9:1", True),
    ("IPv6address", "::", True),
    ("IPv6address", "::1", True),
    ("IPv6address", "1::", True),
    ("IPv6address", "::ffff:192.0.2.128", True),
    ("IPv6address", "0:0:0:0:0:FFFF:129.144.52.38", True),
    ("IPv6address", "2001:db8:0:0:0:0:0:1", True),
    ("IPv6address", "2001:db8::192.0.2.1", True),
    ("IPv6address", "2001:db8:::192.0.2.1", False),
    ("IPv6address", "2001:db8:0:0:0:0:0:0:1", False),
    ("IPv6address", "1::2::3", False),
    ("IPv6address", "12345::", False),
    ("IPv6address", "g::1", False),
    ("IPv6reference", "[2001:db8::10]", True),
    ("IPv6reference", "[2001:db8:::192.0.2.1]", True),
    ("IPv6reference", "[::ffff:c000:280]", True),
    ("IPv6reference", "2001:db8::10", False),
    ("IPv6reference", "[2001:db8::10", False),
    ("domainlabel", "a-b", True),
    ("domainlabel", "-ab", False),
    ("domainlabel", "ab-", False),
    ("toplabel", "com", True),
    ("toplabel", "c0m", True),
    ("toplabel", "9com", False),
    ("hostname", "atlanta.com", True),
    ("hostname", "AtLanTa.CoM", True),
    ("hostname", "atlanta.com.", True),
    ("hostname", "localhost", True),
    ("hostname", "a1-b.c2.example.com", True),
    ("hostname", "x", True),
    ("hostname", "atlanta..com", False),
    ("hostname", ".atlanta.com", False),
    ("hostname", "atlanta.123", False),
    ("hostname", "under_score.com", False),
    ("hostname", "a-.com", False),
    ("host", "192.0.2.4", True),
    ("host", "1.2.3.4.example.com", True),
    ("host", "[2001:db8::10]", True),
    ("host", "biloxi.com", True),
    ("host", "444.555.666.777", False),
    ("host", "2001:db8::10", False),
    ("host", "", False),
    ("port", "5060", True),
    ("port", "", False),
    ("port", "50a", False),
    ("hostport", "atlanta.com:5060", True),
    ("hostport", "[2001:db8::10]:5070", True),
    ("hostport", "atlanta.com:", False),
    # user, password, parameters, headers
    ("user", "alice", True),
    ("user", "alice;day=tuesday", True),
    ("user", "+1-212-555-1212", True),
    ("user", "j%40s0n", True),
    ("user", "j@s0n", False),
    ("user", "", False),
    ("user", "a:b", False),
    ("password", "secretword", True),
    ("password", "", True),
    ("password", "pass;word", False),
    ("userinfo", "alice:secretword@", True),
    ("userinfo", "+1-212-555-1212:1234@", True),
    ("userinfo", "@", False),
    ("transport_param", "transport=tcp", True),
    ("transport_param", "Transport=TLS", True),
    ("transport_param", "transport=", False),
    ("user_param", "user=phone", True),
    ("method_param", "method=REGISTER", True),
    ("ttl_param", "ttl=15", True),
    ("ttl_param", "ttl=1500", False),
    ("maddr_param", "maddr=239.255.255.1", True),
    ("maddr_param", "maddr=[2001:db8::1]", True),
    ("lr_param", "lr", True),
    ("other_param", "newparam=5", True),
    ("other_param", "x[1]=a/b:c", True),
    ("other_param", "flag", True),
    ("other_param", "a=", False),
    ("other_param", "=a", False),
    ("other_param", "a=b=c", False),
    ("uri_parameters", ";transport=tcp;lr;maddr=192.0.2.1", True),
    ("uri_parameters", "", True),
    ("uri_parameters", ";", False),
    ("header", "subject=project%20x", True),
    ("header", "to=sip:bob%40biloxi.com", True),
    ("header", "body=", True),
    ("header", "a=b=c", False),
    ("headers", "?subject=project%20x&priority=urgent", True),
    ("headers", "?", False),
    ("headers", "?a=b&", False),
    # SIP and SIPS URIs: the §19.1.3 examples and some defects
    ("SIP_URI", "sip:alice@atlanta.com", True),
    ("SIP_URI", "sip:alice:secretword@atlanta.com;transport=tcp", True),
    ("SIPS_URI", "sips:alice@atlanta.com?subject=project%20x&priority=urgent", True),
    ("SIP_URI", "sip:+1-212-555-1212:1234@gateway.com;user=phone", True),
    ("SIPS_URI", "sips:1212@gateway.com", True),
    ("SIP_URI", "sip:alice@192.0.2.4", True),
    ("SIP_URI", "sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com", True),
    ("SIP_URI", "sip:alice;day=tuesday@atlanta.com", True),
    ("SIP_URI", "SIP:ALICE@AtLanTa.CoM;Transport=udp", True),
    ("SIP_URI", "sip:user@[2001:db8::10]:5070", True),
    ("SIP_URI", "sip:sips%3Auser%40example.com@example.net", True),
    ("SIP_URI", "sip:null-%00-null@example.com", True),
    ("SIP_URI", "sips:alice@atlanta.com", False),
    ("SIP_URI", "sip:@atlanta.com", False),
    ("SIP_URI", "sip:alice@", False),
    ("SIP_URI", "sip:user@2001:db8::10", False),
    ("SIP_URI", "sip:bob@444.555.666.777", False),
    ("SIP_URI", "sip:alice@atlanta.com; transport=tcp", False),
    ("SIP_URI", "<sip:alice@atlanta.com>", False),
    ("SIPS_URI", "sip:alice@atlanta.com", False),
    # absoluteURI
    ("scheme", "soap.beep", True),
    ("scheme", "1sip", False),
    ("absoluteURI", "tel:+1-201-555-0123", True),
    ("absoluteURI", "mailto:alice@atlanta.com", True),
    ("absoluteURI", "http://www.example.com/a/b;p?q=1", True),
    ("absoluteURI", "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6", True),
    ("absoluteURI", "nobodyknowsthisscheme:totallyopaquecontent", True),
    ("absoluteURI", "soap.beep://192.0.2.103:3002", True),
    ("absoluteURI", "tel:", False),
    ("absoluteURI", "tel:#x", False),
    ("absoluteURI", "no-colon", False),
    ("absoluteURI", "tel:+1 201", False),
    ("Request_URI", "sip:bob@biloxi.com", True),
    ("Request_URI", "tel:+1-201-555-0123", True),
    ("Request_URI", "<sip:bob@biloxi.com>", False),
    # start lines (§7.1, §7.2)
    ("SIP_Version", "SIP/2.0", True),
    ("SIP_Version", "sip/2.0", True),
    ("SIP_Version", "SIP/7.0", True),
    ("SIP_Version", "SIP/2", False),
    ("SIP_Version", "HTTP/1.1", False),
    ("Method", "INVITE", True),
    ("Method", "NEWMETHOD", True),
    ("Method", "RE%47IST%45R", True),
    ("Method", "INV ITE", False),
    ("Request_Line", "INVITE sip:bob@biloxi.com SIP/2.0", True),
    ("Request_Line", "OPTIONS tel:+1-201-555-0123 SIP/2.0", True),
    ("Request_Line", "INVITE  sip:bob@biloxi.com SIP/2.0", False),
    ("Request_Line", "INVITE sip:bob@biloxi.com SIP/2.0 ", False),
    ("Request_Line", "INVITE sip:bob@biloxi.com", False),
    ("Status_Code", "200", True),
    ("Status_Code", "2000", False),
    ("Status_Code", "20", False),
    ("Reason_Phrase", "OK", True),
    ("Reason_Phrase", "", True),
    ("Reason_Phrase", "Session Progress\t(100%25)", True),
    ("Reason_Phrase", "丗丟丠両丢丣", True),
    ("Reason_Phrase", "100% sure", False),
    ("Reason_Phrase", "bad\r\nline", False),
    ("Status_Line", "SIP/2.0 200 OK", True),
    ("Status_Line", "SIP/2.0 100 ", True),
    ("Status_Line", "SIP/2.0 1000 OK", False),
    ("Status_Line", "SIP/2.0 200", False),
    # header field building blocks
    ("header_value", 'anything at all; even "quotes"', True),
    ("header_value", "bare\nLF", False),
    ("gen_value", "z9hG4bK", True),
    ("gen_value", "192.0.2.1", True),
    ("gen_value", "[2001:db8::1]", True),
    ("gen_value", '"quoted value"', True),
    ("gen_value", "a b", False),
    ("generic_param", "tag=1928301774", True),
    ("generic_param", "lr", True),
    ("generic_param", 'foo = "bar baz"', True),
    ("generic_param", "foo=", False),
    ("generic_param", "=bar", False),
    ("display_name", '"Bob"', True),
    ("display_name", "Bob Smith ", True),
    ("display_name", "Bob", True),
    ("display_name", "Bob <", False),
    ("addr_spec", "sip:bob@biloxi.com", True),
    ("addr_spec", "mailto:bob@biloxi.com", True),
    ("addr_spec", "sip:bob@biloxi.com ", False),
    ("name_addr", '"Bob" <sip:bob@biloxi.com>', True),
    ("name_addr", "Bob <sip:bob@biloxi.com>", True),
    ("name_addr", "<sip:bob@biloxi.com>", True),
    ("name_addr", "caller<sip:caller@example.com>", True),
    ("name_addr", "<tel:+1-201-555-0123>", True),
    ("name_addr", "sip:bob@biloxi.com", False),
    ("name_addr", "<sip:bob@biloxi.com", False),
    ("name_addr", "<sip:bob@ biloxi.com>", False),
    ("delta_seconds", "3600", True),
    ("delta_seconds", "-1", False),
    ("qvalue", "0.7", True),
    ("qvalue", "1.000", True),
    ("qvalue", "1.5", False),
    ("qvalue", "0.1234", False),
    ("callid", "a84b4c76e66710@pc33.atlanta.com", True),
    ("callid", "f81d4fae-7dec-11d0-a765-00a0c91e6bf6", True),
    ("callid", "a@b@c", False),
    ("callid", "a b", False),
    ("tag_param", "tag=a6c85cf", True),
    ("sent_protocol", "SIP/2.0/UDP", True),
    ("sent_protocol", "SIP / 2.0 / TCP", True),
    ("sent_protocol", "SIP/2.0", False),
    ("sent_by", "pc33.atlanta.com", True),
    ("sent_by", "192.0.2.1 : 5060", True),
    ("sent_by", "[2001:db8::9:1]:5060", True),
    ("via_received", "received=192.0.2.1", True),
    ("via_received", "received=2001:db8::9:255", True),
    ("via_received", "received=[2001:db8::9:255]", True),
    ("via_branch", "branch=z9hG4bK776asdhds", True),
    ("via_ttl", "ttl=16", True),
    ("via_maddr", "maddr=224.2.0.1", True),
    ("via_parm", "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds", True),
    ("via_parm", "SIP/2.0/UDP 192.0.2.1:5060 ;received=192.0.2.207;branch=z9hG4bK77", True),
    ("via_parm", "SIP/2.0/TCP [2001:db8::9:1];received=[2001:db8::9:255];rport", True),
    ("via_parm", "SIP/2.0/UDP pc33.atlanta.com;;branch=z9", False),
    ("via_parm", "SIP/2.0/UDP", False),
    ("via_parm", "SIP/2.0/UDPpc33.atlanta.com", False),
    ("CSeq_value", "314159 INVITE", True),
    ("CSeq_value", "1 NEWMETHOD", True),
    ("CSeq_value", "INVITE", False),
    ("CSeq_value", "-1 INVITE", False),
    ("media_type", "application/sdp", True),
    ("media_type", "multipart/mixed;boundary=unique-boundary-1", True),
    ("media_type", 'text/plain; charset="utf-8"', True),
    ("media_type", "application", False),
    ("media_range", "*/*", True),
    ("media_range", "text/*;q=0.5", True),
    ("option_tag", "100rel", True),
    ("option_tag", "foo bar", False),
    ("language_range", "en-US", True),
    ("language_range", "*", True),
    ("language_range", "toolonglanguage", False),
    ("language_tag", "fr", True),
    ("auth_param", 'realm="atlanta.com"', True),
    ("auth_param", "algorithm=MD5", True),
    ("auth_param", "realm", False),
    ("nonce_value", '"84a4cc6f3082121f32b42a2187831a9e"', True),
    ("nc_value", "00000001", True),
    ("nc_value", "0000001", False),
    ("request_digest", '"7587245234b3434cc3412213e5f113a5"', True),
    ("request_digest", '"7587245234B3434CC3412213E5F113A5"', False),
    ("digest_response", 'username="bob", realm="biloxi.com", nc=00000001', True),
    (
        "credentials",
        'Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",'
        ' uri="sip:bob@biloxi.com", qop=auth, nc=00000001, cnonce="0a4f113b",'
        ' response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
        True,
    ),
    ("credentials", "Digest", False),
    (
        "challenge",
        'Digest realm="atlanta.com", domain="sip:ss1.carrier.com", qop="auth",'
        ' nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=FALSE, algorithm=MD5',
        True,
    ),
    ("rfc1123_date", "Sat, 13 Nov 2010 23:29:00 GMT", True),
    ("rfc1123_date", "Thu, 21 Feb 2002 13:02:03 GMT", True),
    ("rfc1123_date", "Fri, 01 Jan 2010 16:00:00 EST", False),
    ("rfc1123_date", "Sat, 13 Nov 2010 23:29 GMT", False),
    ("SIP_date", "Mon, 01 Jan 2001 00:00:00 GMT", True),
    ("warning_value", "307 isi.edu \"Session parameter 'foo' not understood\"", True),
    ("warning_value", '301 [2001:db8::1]:5060 "Incompatible network address type"', True),
    ("warning_value", '3071 isi.edu "x"', False),
    ("warning_value", "307 isi.edu unquoted", False),
    ("Retry_After_value", "18000;duration=3600", True),
    ("Retry_After_value", "120 (I'm in a meeting)", True),
    ("Retry_After_value", "soon", False),
    ("Timestamp_value", "54", True),
    ("Timestamp_value", "54.2 0.3", True),
    ("Timestamp_value", ".5", False),
    ("server_val", "HomeServer/2.0", True),
    ("server_val", "(comment)", True),
    ("product", "Softphone/Beta1.5", True),
    # smaller building blocks
    ("IPv6address_extra_colon", "2001:db8:::192.0.2.1", True),
    ("IPv6address_extra_colon", "2001:db8::192.0.2.1", False),
    ("TEXT_UTF8char", "ü", True),
    ("TEXT_UTF8char", " ", False),
    ("abs_path", "/a/b;c", True),
    ("abs_path", "a/b", False),
    ("authority", "user@host:80", True),
    ("authority", "a/b", False),
    ("net_path", "//host/path", True),
    ("net_path", "/host", False),
    ("hier_part", "//host/path?q", True),
    ("hier_part", "host", False),
    ("opaque_part", "+1-201-555-0123", True),
    ("opaque_part", "/x", False),
    ("path_segments", "a/b/c", True),
    ("path_segments", "a b", False),
    ("segment", "a;p", True),
    ("segment", "a/b", False),
    ("pchar", "@", True),
    ("pchar", "/", False),
    ("uric", "/", True),
    ("uric", " ", False),
    ("uric_no_slash", "?", True),
    ("uric_no_slash", "/", False),
    ("query", "a=b&c", True),
    ("query", "a#b", False),
    ("reg_name", "a;b@c", True),
    ("reg_name", "", False),
    ("hname", "Subject", True),
    ("hname", "a&b", False),
    ("hvalue", "", True),
    ("hvalue", "a=b", False),
    ("hnv_unreserved", "?", True),
    ("hnv_unreserved", "&", False),
    ("param_unreserved", "[", True),
    ("param_unreserved", ";", False),
    ("paramchar", "%20", True),
    ("paramchar", "=", False),
    ("pname", "maddr", True),
    ("pname", "a=b", False),
    ("pvalue", "239.255.255.1", True),
    ("pvalue", "", False),
    ("user_unreserved", ";", True),
    ("user_unreserved", "@", False),
    ("ttl", "255", True),
    ("ttl", "1234", False),
    ("m_value", '"utf-8"', True),
    ("m_value", "a b", False),
    ("via_params", "received=2001:db8::1", True),
    ("via_params", "branch=", False),
    ("warn_agent", "isi.edu:5060", True),
    ("warn_agent", "a b", False),
    ("wkday", "Thu", True),
    ("wkday", "Thursday", False),
    ("month", "Nov", True),
    ("month", "November", False),
    ("date1", "02 Jun 1982", True),
    ("date1", "2 Jun 1982", False),
    ("time", "23:59:59", True),
    ("time", "23:59", False),
    ("delay", "0.3", True),
    ("delay", "", True),
    ("delay", "a", False),
]


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
##= type=test
##% The format for a SIPS URI is the same, except that the scheme is
##% "sips" instead of sip.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
##= type=test
##% If the @ sign is
##% present in a SIP or SIPS URI, the user field MUST NOT be empty.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.2
##= type=test
##% For example, "@" is not in the set of characters in the user
##% component, so the user "j@s0n" must have at least the @ sign encoded,
##% as in "j%40s0n".
@pytest.mark.parametrize(("rule", "text", "matches"), CASES)
def test_rule(rule: str, text: str, matches: bool) -> None:
    pattern = re.compile(getattr(abnf, rule))
    assert (pattern.fullmatch(text) is not None) is matches


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.1
##= type=test
##% The SIP-Version string is case-insensitive,
##% but implementations MUST send upper-case.
def test_sip_version_case_insensitive() -> None:
    pattern = re.compile(abnf.SIP_Version)
    assert pattern.fullmatch("SiP/2.0")
    assert not pattern.fullmatch("SIP/2.0/UDP")


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.1
##= type=test
##% No linear whitespace (LWS) is allowed
##% in any of the elements.
def test_request_line_has_no_lws_inside_elements() -> None:
    pattern = re.compile(abnf.Request_Line)
    assert pattern.fullmatch("INVITE sip:user@example.com SIP/2.0")
    assert not pattern.fullmatch("INVITE sip:user@example.com; lr SIP/2.0")
    assert not pattern.fullmatch("INVITE\tsip:user@example.com SIP/2.0")


##= https://www.rfc-editor.org/rfc/rfc3261#section-25.1
##= type=test
##% The backslash character ("\") MAY be used as a single-character
##% quoting mechanism only within quoted-string and comment constructs.
##= https://www.rfc-editor.org/rfc/rfc3261#section-25.1
##= type=test
##% Unlike HTTP/1.1, the characters CR and LF cannot be escaped by this
##% mechanism to avoid conflict with line folding and header separation.
def test_quoted_pair_only_inside_quotes_and_comments() -> None:
    assert re.fullmatch(abnf.quoted_string, '"a\\"b"')
    assert re.fullmatch(abnf.comment, "(a\\)b)")
    assert not re.fullmatch(abnf.token, "a\\b")
    assert not re.fullmatch(abnf.quoted_string, '"a\\\r\n b"')


##= https://www.rfc-editor.org/rfc/rfc3261#section-25.1
##= type=test
##% These special characters MUST be in a quoted string to
##% be used within a parameter value.
@pytest.mark.parametrize("special", [*"()<>@,;:\\/[]?={}", '"', " "])
def test_separators_need_quotes_in_parameter_values(special: str) -> None:
    pattern = re.compile(abnf.generic_param)
    assert not pattern.fullmatch(f"name=a{special}b")
    quoted = "\\" + special if special in '"\\' else special
    assert pattern.fullmatch(f'name="a{quoted}b"')


##= https://www.rfc-editor.org/rfc/rfc5954#section-4.1
##= type=test
##% Accordingly, this document updates RFC 3261 as follows:  the
##% <IPv6address> and <IPv4address> production rules from RFC 3261 MUST
##% NOT be used and instead, the production rules of the same name in RFC
##% 3986 (and reproduced above) MUST be used.
##= https://www.rfc-editor.org/rfc/rfc5954#section-4.1
##= type=test
##% This will render
##% <hexpart>, <hexseq>, and <hex4> production rules in RFC 3261
##% obsolete; as such, these three production rules -- namely, <hexpart>,
##% <hexseq>, and <hex4> -- from RFC 3261 MUST NOT be used.
def test_rfc5954_address_rules() -> None:
    ipv4 = re.compile(abnf.IPv4address)
    ipv6 = re.compile(abnf.IPv6address)
    assert not ipv4.fullmatch("444.555.666.777")
    # RFC 3261's hexpart allowed any number of groups and an extra colon before IPv4.
    assert not ipv6.fullmatch("1:2:3:4:5:6:7:8:9")
    assert not ipv6.fullmatch("2001:db8:::192.0.2.1")
    assert ipv6.fullmatch("2001:db8::192.0.2.1")
    # RFC 5118 §4.10: the extra-colon form is still tolerated inside an IPv6reference.
    assert re.fullmatch(abnf.IPv6reference, "[2001:db8:::192.0.2.1]")


def _public_rules() -> list[str]:
    return sorted(
        name for name, value in vars(abnf).items() if isinstance(value, str) and name[0] != "_"
    )


def test_every_rule_compiles_and_has_no_named_groups() -> None:
    # Named groups would collide when rules are pasted into bigger patterns.
    names = _public_rules()
    assert len(names) > 100
    for name in names:
        assert re.compile(getattr(abnf, name)).groupindex == {}, name


def test_every_rule_has_a_case() -> None:
    covered = {rule for rule, _, _ in CASES}
    helpers = {"DIGIT", "HEXDIG", "SP", "HTAB", "WSP", "CRLF", "UTF8_NONASCII", "UTF8_CONT"}
    missing = set(_public_rules()) - covered - helpers
    # Aliases of a tested rule (Method == token, ...) need no case of their own.
    aliases = {
        name for name in missing if any(getattr(abnf, name) == getattr(abnf, r) for r in covered)
    }
    assert missing - aliases == set()


# Long inputs built to make a backtracking matcher go exponential or quadratic: long runs
# of one class ending in a character that makes the match fail.
_SIZE = 100_000
ADVERSARIAL = [
    "a" * _SIZE + "\x00",
    "a." * (_SIZE // 2) + "-",
    "a-" * (_SIZE // 2) + ".",
    "1." * (_SIZE // 2) + "x:",
    " " * _SIZE + "\x00",
    " \r\n" * (_SIZE // 3) + "\x00",
    '"' + "\\a" * (_SIZE // 2),
    '"' + " \r\n " * (_SIZE // 4),
    "(" * _SIZE,
    "(a" * (_SIZE // 2) + "\\",
    "%4" * (_SIZE // 2),
    ":" * _SIZE + "x",
    "1:" * (_SIZE // 2) + "g",
    "[" + "1:" * (_SIZE // 2),
    "sip:" + "a" * _SIZE + "@@",
    "sip:a@b" + ";a=b" * (_SIZE // 4) + ";=",
    "sip:a@b?" + "a=b&" * (_SIZE // 4),
    "SIP/2.0/UDP a" + ";a=b" * (_SIZE // 4) + ";",
    "tag" + " = tag" * (_SIZE // 6),
    "a " * (_SIZE // 2) + "<",
]


@pytest.mark.parametrize("rule", _public_rules())
def test_no_catastrophic_backtracking(rule: str) -> None:
    pattern = re.compile(getattr(abnf, rule))
    start = time.perf_counter()
    for text in ADVERSARIAL:
        pattern.fullmatch(text)
        pattern.match(text)
    elapsed = time.perf_counter() - start
    # Linear matching of 20 inputs of 100 KB takes milliseconds; anything worse than
    # linear takes minutes. The bound leaves room for slow CI machines.
    assert elapsed < 1.0, f"{rule}: {elapsed:.2f}s on adversarial input"
