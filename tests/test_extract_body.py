"""Body text: `Label: value` fields, HTML to text, quoted replies and inline forwards."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sikm_mailbot.domain.vocabulary import FORM_LABELS
from sikm_mailbot.mail.extract.body import split_body
from sikm_mailbot.mail.extract.fields import parse_fields
from sikm_mailbot.mail.extract.html_text import html_to_text

# ---------------------------------------------------------------- parse_fields


def test_labels_any_case_spacing_and_separator() -> None:
    text = "\n".join(
        [
            "Nama Lengkap: Sari Wulandari",
            "  nik   :3174055203900002",
            "TANGGAL   LAHIR = 12-03-1990",
            "Jenis Kelamin\tP",
            "Alamat    Jl. Melati No. 7",
            "nomor_hp: 081234567890",
            "Tanggal Berangkat - 25-05-2020",
            "Kota Asal：Jakarta",
        ]
    )
    assert parse_fields(text) == {
        "nama": "Sari Wulandari",
        "nik": "3174055203900002",
        "tanggal_lahir": "12-03-1990",
        "jenis_kelamin": "P",
        "alamat": "Jl. Melati No. 7",
        "nomor_hp": "081234567890",
        "tanggal_berangkat": "25-05-2020",
        "kota_asal": "Jakarta",
    }


def test_longest_label_wins() -> None:
    text = "NIK Penjamin: 3171010101800001\nNIK: 3174055203900002\nNama Penjamin: Andi\n"
    assert parse_fields(text) == {
        "penjamin_nik": "3171010101800001",
        "nik": "3174055203900002",
        "penjamin_nama": "Andi",
    }


def test_bullets_numbering_and_dates_with_dashes() -> None:
    text = (
        "1. Nama Lengkap: Sari\n2) Tanggal Lahir: 12-03-1990\n- Email: s@example.com\n• Sektor: tik"
    )
    assert parse_fields(text) == {
        "nama": "Sari",
        "tanggal_lahir": "12-03-1990",
        "email": "s@example.com",
        "sektor": "tik",
    }


def test_not_a_label_prefix_and_placeholders() -> None:
    text = (
        "Nikah bulan depan\nAlamatnya jauh\nNama Lengkap: ________\nEmail: ....\nNama Lengkap: Sari"
    )
    assert parse_fields(text) == {"nama": "Sari"}


def test_first_non_empty_value_wins_and_values_end_at_line_end() -> None:
    text = "Nama Lengkap:\nSari\nNama Lengkap: Dewi Lestari\nNama Lengkap: Other"
    assert parse_fields(text) == {"nama": "Dewi Lestari"}


def _label_spelling(key: str, style: int) -> str:
    label = FORM_LABELS[key]
    return [label, label.upper(), label.lower(), key, "  ".join(label.split())][style % 5]


_value = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 .,@/+-]{0,30}[A-Za-z0-9]", fullmatch=True).map(
    lambda v: " ".join(v.split())
)


@settings(max_examples=150, deadline=None)
@given(
    values=st.dictionaries(st.sampled_from(sorted(FORM_LABELS)), _value, min_size=1),
    styles=st.lists(st.integers(0, 1000), min_size=len(FORM_LABELS), max_size=len(FORM_LABELS)),
    order=st.randoms(use_true_random=False),
)
def test_property_written_fields_parse_back(values, styles, order) -> None:
    keys = list(values)
    order.shuffle(keys)
    lines = []
    for i, key in enumerate(keys):
        style = styles[i]
        label = _label_spelling(key, style)
        sep = [": ", " : ", ":", "\t", "   ", " = ", " - "][style // 5 % 7]
        bullet = ["", "- ", f"{i + 1}. ", "* ", "  "][style // 35 % 5]
        lines.append(f"{bullet}{label}{sep}{values[key]}")
    # noise that must not be taken for fields
    lines.insert(0, "Dengan hormat, berikut data saya")
    assert parse_fields("\n".join(lines)) == values


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_property_arbitrary_text_never_raises(text: str) -> None:
    result = parse_fields(text)
    assert all(key in FORM_LABELS and value for key, value in result.items())


# ---------------------------------------------------------------- HTML


def test_html_to_text_blocks_tables_and_entities() -> None:
    html = (
        "<html><head><style>p{color:red}</style><script>alert(1)</script></head><body>"
        "<p>Nama Lengkap: Sari&nbsp;Wulandari</p><div>NIK:<b>3174055203900002</b></div>"
        "<table><tr><td>Kota Asal</td><td>Jakarta</td></tr></table>"
        "Alamat: Jl. Melati&#32;7<br>Email: s@example.com</body></html>"
    )
    text = html_to_text(html)
    assert "alert" not in text and "color" not in text
    assert parse_fields(text) == {
        "nama": "Sari\xa0Wulandari".replace("\xa0", " "),
        "nik": "3174055203900002",
        "kota_asal": "Jakarta",
        "alamat": "Jl. Melati 7",
        "email": "s@example.com",
    }


def test_html_blockquote_is_quoted() -> None:
    text = html_to_text("<p>Baru</p><blockquote><p>Nama Lengkap: Lama</p></blockquote>")
    assert text.splitlines() == ["Baru", "> Nama Lengkap: Lama"]
    assert split_body(text).new_text == "Baru"


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_property_html_to_text_never_raises(text: str) -> None:
    assert isinstance(html_to_text("<p>" + text), str)


# ---------------------------------------------------------------- replies and forwards


def test_reply_quotes_and_attribution_are_not_new_text() -> None:
    body = (
        "Berikut berkas yang kurang.\nNIK: 3174055203900002\n\n"
        "On Wed, 20 May 2020 at 10:00, SIKM Desk <sikm@example.org>\nwrote:\n"
        "> Nama Lengkap: Old Value\n> Lampiran kurang: KTP\n"
    )
    parts = split_body(body)
    assert parts.new_text == "Berikut berkas yang kurang.\nNIK: 3174055203900002"
    assert "Old Value" in parts.quoted_text
    assert parse_fields(parts.new_text) == {"nik": "3174055203900002"}


def test_indonesian_and_outlook_reply_headers() -> None:
    id_body = "Ini KTP saya.\nPada Rab, 20 Mei 2020 10.00, SIKM <sikm@example.org> menulis:\nlama"
    assert split_body(id_body).new_text == "Ini KTP saya."
    outlook = (
        "Terlampir.\n\n-----Original Message-----\nFrom: SIKM\nSent: Wednesday\nSubject: x\nold"
    )
    assert split_body(outlook).new_text == "Terlampir."
    outlook2 = "Terlampir.\n________________________________\nFrom: SIKM\nSent: Wed\nold"
    assert split_body(outlook2).new_text == "Terlampir."


def test_inline_forward_and_signature() -> None:
    body = (
        "Mohon diproses.\n-- \nSari\nNomor HP: 0800000000\n"
        "---------- Forwarded message ---------\n"
        "From: Sari Wulandari <Sari.W@example.com>\nDate: Wed, 20 May 2020\n"
        "Subject: SIKM\nTo: <sikm@example.org>\n\nNama Lengkap: Sari Wulandari\n> quoted\n"
    )
    parts = split_body(body)
    assert parts.new_text == "Mohon diproses."
    assert parts.signature.startswith("--")
    assert len(parts.forwarded) == 1
    assert parts.forwarded[0].from_addr == "sari.w@example.com"
    assert parts.forwarded[0].text == "Nama Lengkap: Sari Wulandari"
