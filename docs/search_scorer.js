/* sipref's search ranking (conf.py: html_search_scorer), on top of Sphinx's defaults.
 *
 * Index entries (header field names, response codes, timers: annotate.sphinxext) already
 * score 100.  A section whose title matches comes next, before pages that merely hold the
 * words; among sections, the shallower one first (§20.22 before §8.1.1.6) and RFC 3261
 * first.  The requirement lists hold every sentence of an RFC: they follow the spec pages.
 */
var Scorer = {
  score: function (result) {
    var docname = result[0], anchor = result[2] || "", score = result[4], kind = result[6];
    if (kind === "title" && anchor) {
      score += 20 - (anchor.split(".").length - 1) * 0.5;
    }
    if (docname.indexOf("/rfc3261/") >= 0) score += 1;
    if (docname.indexOf("_generated/requirements/") === 0) score -= 6;
    return score;
  },
  objNameMatch: 11,
  objPartialMatch: 6,
  objPrio: { 0: 15, 1: 5, 2: -5 },
  objPrioDefault: 0,
  title: 15,
  partialTitle: 7,
  term: 5,
  partialTerm: 2,
};
