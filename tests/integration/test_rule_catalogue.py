"""The rule catalogue and the SigmaHQ overlap table: generated, and never stale."""

from __future__ import annotations

from tools.docs.rule_catalogue import (
    OUTPUT,
    PACK_README,
    controls,
    first_sentence,
    overlaps,
    readme_with_overlap,
    render_catalogue,
    render_overlap,
    techniques,
)
from tools.docs.rulepack import RULES, SIGMAHQ_PACK

from trailhound.authoring.loader import load_rules


def test_the_committed_catalogue_is_what_the_script_writes_now() -> None:
    assert OUTPUT.read_text(encoding="utf-8") == render_catalogue(), (
        "docs/reference/rules.md is stale: run make docs"
    )


def test_the_committed_overlap_table_is_what_the_script_writes_now() -> None:
    readme = PACK_README.read_text(encoding="utf-8")
    assert readme == readme_with_overlap(readme, render_overlap()), (
        "the overlap table in packs/sigmahq/README.md is stale: run make docs"
    )


def test_the_sigmahq_pack_loads_beside_our_rules() -> None:
    loaded = load_rules([RULES, SIGMAHQ_PACK])
    assert not loaded.errors, [str(error) for error in loaded.errors]


def test_technique_tags_link_to_their_attack_pages() -> None:
    tags = ["attack.persistence", "attack.t1098.001", "attack.t1485", "cis.4.3"]
    assert techniques(tags) == [
        "[T1098.001](https://attack.mitre.org/techniques/T1098/001/)",
        "[T1485](https://attack.mitre.org/techniques/T1485/)",
    ]


def test_cis_and_security_hub_tags_become_control_names() -> None:
    tags = ["attack.t1078.004", "cis.1.7", "cis.4.3", "securityhub.cloudwatch.1"]
    assert controls(tags) == ["CIS 1.7", "CIS 4.3", "CloudWatch.1"]


def test_the_description_is_cut_at_its_first_sentence_but_not_at_abbreviations() -> None:
    text = "Someone opened a port, e.g. 22, to\n  the world. Attackers scan for it."
    assert first_sentence(text) == "Someone opened a port, e.g. 22, to the world."


def test_a_catch_all_rule_overlaps_only_its_kind_and_on_half_its_events() -> None:
    assert overlaps(True, True, shared=1, fired=10)
    assert not overlaps(True, False, shared=10, fired=10)
    assert not overlaps(False, True, shared=10, fired=10)
    assert overlaps(False, False, shared=5, fired=10)
    assert not overlaps(False, False, shared=4, fired=10)
