"""The programme's words, once: household categories, form kinds, support needs, funding
sources and payout kinds, in Vietnamese and English, keyed ``<group>.<value>`` by the values
of ``sync/records.py``.

The web pages' catalogues include them (``server/web/messages.py``), the offline app loads
them as ``/app/vocabulary.js``, and the ODK entity lists label their rows with the Vietnamese
ones, so an official, a collaborator's app and ODK Collect call a thing by one name.
"""

from __future__ import annotations

WORDS: dict[str, dict[str, str]] = {
    "vi": {
        "kind.exit_poverty": "Thoát nghèo",
        "kind.exit_near_poverty": "Thoát cận nghèo",
        "category.poor": "Hộ nghèo",
        "category.near_poor": "Hộ cận nghèo",
        "need.livestock": "Con giống",
        "need.seedlings": "Cây giống",
        "need.vocational_training": "Học nghề",
        "need.preferential_loan": "Vay vốn ưu đãi",
        "need.job_placement": "Việc làm, xuất khẩu lao động",
        "need.housing": "Nhà ở",
        "need.other": "Khác",
        "payout.reward": "Thưởng hộ thoát nghèo",
        "payout.interest_support": "Hỗ trợ lãi suất",
        "payout.health_insurance": "Thẻ BHYT",
        "payout.tuition": "Học phí, hỗ trợ học tập",
        "payout.other": "Khác",
        "funding.province": "Ngân sách tỉnh",
        "funding.district": "Ngân sách huyện",
        "funding.commune": "Ngân sách xã",
        "funding.social_policy_bank": "Ngân hàng CSXH",
        "funding.other": "Khác",
    },
    "en": {
        "kind.exit_poverty": "Exit poverty",
        "kind.exit_near_poverty": "Exit near-poverty",
        "category.poor": "Poor",
        "category.near_poor": "Near-poor",
        "need.livestock": "Livestock",
        "need.seedlings": "Seedlings",
        "need.vocational_training": "Vocational training",
        "need.preferential_loan": "Preferential loan",
        "need.job_placement": "Job placement",
        "need.housing": "Housing",
        "need.other": "Other",
        "payout.reward": "Exit reward",
        "payout.interest_support": "Interest support",
        "payout.health_insurance": "Health insurance",
        "payout.tuition": "Tuition",
        "payout.other": "Other",
        "funding.province": "Province",
        "funding.district": "District",
        "funding.commune": "Commune",
        "funding.social_policy_bank": "Social Policy Bank",
        "funding.other": "Other",
    },
}


def word(group: str, value: str, language: str = "vi") -> str:
    """The name of ``value`` of a ``group`` (``need``, ``payout``, ...); the value itself if unnamed."""
    return WORDS[language].get(f"{group}.{value}", value)
