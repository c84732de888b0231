"""The cases, one module per group; importing this package registers them all."""

# Order matters a little: the UAS cases run first and learn which methods the target leaves
# unanswered, so the torture messages that use them do not each wait for a response.
from conformance.cases import uas  # noqa: F401, I001
from conformance.cases import transaction  # noqa: F401
from conformance.cases import registrar  # noqa: F401
from conformance.cases import proxy  # noqa: F401
from conformance.cases import uac  # noqa: F401
from conformance.cases import torture  # noqa: F401
