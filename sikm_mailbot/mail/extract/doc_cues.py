"""What each kind of document says: a scored table of cue phrases, tolerant of OCR noise.

Each profile (a row of :data:`PROFILES`) lists the phrases printed on one kind of
document with a weight; a document's score for a profile is the sum of the
weights of the phrases found in its text (each phrase once). Negative weights
are evidence against (a KTP never says "menerangkan"). The *heading* — the
heading phrase found first in the text, the longest one where two start
together — earns its profile :data:`HEADING_BONUS`: a letter's title comes
before its body, and bodies name other documents ("berdasarkan surat pengantar
RT", "terlampir surat pernyataan").

Phrases are matched as OCR returns them: any case, words split or glued, any
punctuation between words, and the look-alikes O/0, I/1/l, S/5, B/8, G/6, Z/2.
Phrase syntax: ``|`` separates alternatives, a word in brackets is optional
(``[SURAT] KETERANGAN KEMATIAN``). Pure: text in, scores out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from sikm_mailbot.domain.vocabulary import DocKind

MIN_SCORE = 6  # below this, the text does not say what the document is
HEADING_BONUS = 3
TEXTLESS_WORDS = 5  # at most this many words: "no text" (a photo's OCR noise)

_LOOKALIKES = {
    "O": "O0Q",
    "0": "0O",
    "Q": "QO0",
    "I": "I1L|!",
    "L": "L1I|",
    "1": "1IL|",
    "S": "S5",
    "5": "5S",
    "B": "B8",
    "8": "8B",
    "G": "G6",
    "6": "6G",
    "Z": "Z2",
    "2": "2Z",
}
_SEP = r"[^A-Za-z0-9]{0,4}"  # between words: nothing, spaces, punctuation, a stray mark
_SHORT = 5  # phrases of at most this many letters must end on a word boundary ("NIK")


def _letter(char: str) -> str:
    alike = _LOOKALIKES.get(char)
    return f"[{re.escape(alike)}]" if alike else re.escape(char)


def _word(word: str) -> str:
    """One printed word; OCR may break it with single spaces ("PERNY ATAAN")."""
    return " ?".join(_letter(c) for c in word)


def _alternative(phrase: str) -> str:
    tokens = re.findall(r"\[?[A-Z0-9]+\]?", phrase.upper())
    out = ""
    for i, token in enumerate(tokens):
        optional = token.startswith("[")
        part = _word(token.strip("[]"))
        part = part if i == 0 else _SEP + part
        out += f"(?:{part})?" if optional else part
    letters = sum(len(t.strip("[]")) for t in tokens if not t.startswith("["))
    end = r"(?![A-Za-z0-9])" if letters <= _SHORT else ""
    return r"(?<![A-Za-z0-9])" + out + end


def fuzzy(phrase: str) -> re.Pattern[str]:
    """The OCR-tolerant pattern of a cue phrase (see the module docstring for its syntax)."""
    alternatives = [a.strip() for a in phrase.split("|") if a.strip()]
    return re.compile("|".join(_alternative(a) for a in alternatives), re.IGNORECASE)


# ---------------------------------------------------------------- cues that are not words

_DIGITISH = "0-9OoIl|SB"
_NIK_RUN = re.compile(rf"(?<![A-Za-z0-9])[{_DIGITISH}](?: ?[{_DIGITISH}]){{15}}(?![0-9])")


def has_nik(text: str) -> bool:
    """A 16-digit NIK-like number, as OCR reads it (O for 0, l for 1, a stray space)."""
    runs = (match.group() for match in _NIK_RUN.finditer(text))
    return any(sum(c.isdigit() for c in run) >= 12 for run in runs)


# Passport machine-readable zone: "P<IDNSANTOSO<<BUDI<<<<" and the number line.
_MRZ = re.compile(
    r"P ?[<«(KC] ?[A-Z]{3}[A-Z<« ]{3,}<<|[A-Z0-9<]{9}[0-9][A-Z<]{3}[0-9]{6}[0-9<][MF<][0-9]{6}"
)
# "RT 003 / RW 005", "RT.05/RW.03" (a letter's letterhead or number), not the KTP's "RT/RW".
_RT_RW_NUMBER = re.compile(r"(?<![A-Za-z])RT\W{0,3}\d{1,3}\W{1,4}RW\W{0,3}\d{1,3}", re.IGNORECASE)


def has_mrz(text: str) -> bool:
    """A passport's machine-readable lines."""
    return _MRZ.search(text.upper()) is not None


def has_rt_rw_number(text: str) -> bool:
    """An RT/RW numbered like a neighbourhood letter's letterhead."""
    return _RT_RW_NUMBER.search(text) is not None


def word_count(text: str) -> int:
    """Words of three or more letters: how much text OCR really found."""
    return sum(1 for token in text.split() if re.fullmatch(r"[A-Za-z]{3,}[.,:;]?", token))


def is_textless(text: str) -> bool:
    """(Almost) no text: a photo, whose OCR returns at most a few stray words."""
    return word_count(text) <= TEXTLESS_WORDS


# ---------------------------------------------------------------- the table


@dataclass(frozen=True)
class Cue:
    """One phrase (or test) that speaks for a kind of document."""

    phrase: str
    weight: int
    heading: bool = False  # a title: the first heading in a text earns HEADING_BONUS
    test: Callable[[str], bool] | None = None  # instead of the phrase, for non-words

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        return fuzzy(self.phrase)

    def find(self, text: str) -> tuple[int, int] | None:
        """(start, length) of the first match in ``text``, or None."""
        if self.test is not None:
            return (len(text), 0) if self.test(text) else None
        match = self.pattern.search(text)
        return (match.start(), match.end() - match.start()) if match else None


def H(phrase: str, weight: int) -> Cue:  # noqa: N802 - reads as a table
    """A heading cue: the document's title."""
    return Cue(phrase, weight, heading=True)


def C(phrase: str, weight: int) -> Cue:  # noqa: N802
    """A body cue."""
    return Cue(phrase, weight)


# Evidence that a text is a letter: never printed on a card.
_NOT_A_CARD = (C("MENERANGKAN", -3), C("DEMIKIAN", -3), C("BERTANDA TANGAN", -3))


@dataclass(frozen=True)
class Profile:
    """One kind of document as its text shows it."""

    name: str  # the row's own name: "ktp", "kk", "kelurahan_letter"
    kind: DocKind
    cues: tuple[Cue, ...]
    note: str = ""  # for the reason, when the kind's name does not say what this is


PROFILES: tuple[Profile, ...] = (
    Profile("form", DocKind.form, (
        H("FORMULIR PERMOHONAN SIKM", 6), H("FORMULIR PERMOHONAN", 3),
        C("KATEGORI PEMOHON", 2), C("JENIS PERJALANAN", 2), C("KOTA ASAL", 2),
        C("KOTA TUJUAN", 2), C("TANGGAL BERANGKAT", 2), C("TANGGAL KEMBALI", 1),
        C("BERLAKU SAMPAI", 1), C("NAMA PENJAMIN", 1), C("HUBUNGAN PENJAMIN", 1),
        C("DATA PEMOHON", 1), C("NOMOR HP", 1), C("KEPERLUAN", 1),
    )),
    Profile("statement", DocKind.statement, (
        H("SURAT PERNYATAAN", 5),
        C("MENYATAKAN DENGAN SESUNGGUHNYA|MENYATAKAN DENGAN SEBENARNYA", 2),
        C("KEADAAN SEHAT", 2), C("YANG MEMBUAT PERNYATAAN", 3),
        C("DEMIKIAN [SURAT] PERNYATAAN", 2), C("METERAI|MATERAI", 1), C("KONTAK ERAT", 1),
    )),
    Profile("ktp", DocKind.ktp, (
        H("KARTU TANDA PENDUDUK", 5), C("PROVINSI", 1), C("NIK", 1),
        Cue("16-digit NIK", 2, test=has_nik),
        C("TEMPAT/TGL LAHIR", 3), C("GOL. DARAH", 3), C("KEL/DESA", 2), C("KECAMATAN", 1),
        C("AGAMA", 1), C("STATUS PERKAWINAN", 1), C("KEWARGANEGARAAN", 1),
        C("BERLAKU HINGGA", 3), C("SEUMUR HIDUP", 2), C("RT/RW", 1), C("JENIS KELAMIN", 1),
        C("LAKI-LAKI|PEREMPUAN", 1), C("WNI", 1), C("FORMULIR", -3), *_NOT_A_CARD,
    )),
    Profile("kk", DocKind.ktp, (
        H("KARTU KELUARGA", 5), C("KEPALA KELUARGA", 3), C("HUBUNGAN DALAM KELUARGA", 3),
        C("NAMA AYAH", 2), C("NAMA IBU", 2), C("PENDIDIKAN", 1), C("JENIS PEKERJAAN", 1),
        C("DESA/KELURAHAN", 1), C("KODE POS", 1), C("DIKELUARKAN TANGGAL", 2),
        C("PENCATATAN SIPIL", 1), C("NIK", 1), Cue("16-digit NIK", 1, test=has_nik),
        C("STATUS PERKAWINAN", 1), C("KEWARGANEGARAAN", 1), C("AGAMA", 1), *_NOT_A_CARD,
    ), note="family card (KK), taken as the KTP"),
    Profile("passport", DocKind.passport, (
        C("PASPOR", 3), C("PASSPORT", 3), C("SURNAME", 2), C("GIVEN NAME", 2),
        C("DATE OF EXPIRY", 2), C("DATE OF ISSUE", 1), C("DATE OF BIRTH", 1),
        C("PLACE OF BIRTH", 1), C("NATIONALITY", 1), C("COUNTRY CODE|KODE NEGARA", 2),
        C("KANTOR YANG MENGELUARKAN|ISSUING OFFICE|AUTHORITY", 1),
        Cue("machine-readable zone", 5, test=has_mrz), *_NOT_A_CARD,
    )),
    Profile("kitas", DocKind.kitas, (
        H("KARTU IZIN TINGGAL", 5), C("IZIN TINGGAL TERBATAS|IZIN TINGGAL TETAP", 3),
        C("LIMITED STAY|PERMANENT STAY|STAY PERMIT", 3), C("KITAS|KITAP", 3),
        C("ITAS|ITAP", 2), C("IMIGRASI|IMMIGRATION", 2), C("NATIONALITY", 1), *_NOT_A_CARD,
    )),
    Profile("rtrw_letter", DocKind.rtrw_letter, (
        H("SURAT PENGANTAR", 5), C("KETUA RT|KETUA RW", 3),
        C("RUKUN TETANGGA|RUKUN WARGA", 2), C("PENGURUS RT|PENGURUS RW", 1),
        Cue("RT nn / RW nn", 2, test=has_rt_rw_number), C("WARGA KAMI", 1),
    )),
    Profile("kelurahan_letter", DocKind.rtrw_letter, (
        H("SURAT KETERANGAN", 2), C("LURAH", 2),
        C("KEPALA DESA|KEPALA KELURAHAN|KADES", 3), C("MENERANGKAN BAHWA", 1),
        C("WARGA KAMI|PENDUDUK KAMI", 2), C("ADALAH BENAR|BENAR-BENAR", 1),
        C("KELURAHAN|PEMERINTAH DESA", 1),
    ), note="letter from the kelurahan/desa"),
    Profile("guarantee_letter", DocKind.guarantee_letter, (
        H("SURAT JAMINAN|SURAT PENJAMINAN", 5), C("PENJAMIN", 2), C("MENJAMIN", 2),
        C("YANG DIJAMIN|TERJAMIN", 2), C("BERTANGGUNG JAWAB", 1),
    )),
    Profile("work_letter", DocKind.work_letter, (
        H("SURAT TUGAS|SURAT PERINTAH TUGAS|SURAT PERINTAH KERJA", 5),
        H("[SURAT] KETERANGAN KERJA|[SURAT] KETERANGAN BEKERJA|[SURAT] KETERANGAN USAHA", 5),
        C("MENUGASKAN|DITUGASKAN", 3), C("KARYAWAN", 2), C("PEGAWAI", 1), C("JABATAN", 1),
        C("HRD|SDM|PERSONALIA", 1), C("PERUSAHAAN", 1),
        C("BEKERJA DI|BEKERJA PADA|BEKERJA SEBAGAI", 2),
    )),
    Profile("domicile_letter", DocKind.domicile_letter, (
        H("[SURAT] KETERANGAN DOMISILI", 5), C("BERDOMISILI", 2), C("BERTEMPAT TINGGAL", 2),
        C("DOMISILI", 1),
    )),
    Profile("hospital_letter", DocKind.emergency_letter, (
        H("[SURAT] KETERANGAN SAKIT|[SURAT] KETERANGAN RAWAT INAP|[SURAT] KETERANGAN DIRAWAT"
          "|SURAT RUJUKAN", 5),
        C("RAWAT INAP|DIRAWAT", 2), C("RUMAH SAKIT|RSUD|RSUP|RSIA|PUSKESMAS|KLINIK", 2),
        C("PASIEN", 2), C("DIAGNOSA|DIAGNOSIS", 2), C("DOKTER", 1), C("RUJUKAN|DIRUJUK", 2),
        C("KEADAAN DARURAT", 3), C("SAKIT KERAS", 2),
    )),
    Profile("death_certificate", DocKind.emergency_letter, (
        H("[SURAT] KETERANGAN KEMATIAN|AKTA KEMATIAN|SURAT KEMATIAN", 5),
        C("MENINGGAL DUNIA", 3), C("TELAH MENINGGAL|WAFAT|TUTUP USIA", 2), C("ALMARHUM", 2),
        C("JENAZAH|PEMAKAMAN|DIMAKAMKAN", 1), C("SEBAB KEMATIAN|SEBAB MENINGGAL", 2),
        C("KEADAAN DARURAT", 2),
    )),
    # Not a document the office asks for; recognised so that it is not taken for one.
    Profile("health_certificate", DocKind.unknown, (
        H("[SURAT] KETERANGAN SEHAT|[SURAT] KETERANGAN BEBAS COVID", 5),
        C("RAPID TEST|SWAB|PCR|BEBAS COVID|NON REAKTIF", 2),
        C("TELAH DIPERIKSA|HASIL PEMERIKSAAN", 1),
    ), note="health certificate (surat keterangan sehat), not one of the documents asked for"),
)  # fmt: skip


@dataclass(frozen=True)
class Score:
    """How strongly a text speaks for one profile."""

    profile: Profile
    points: int
    heading: bool = False  # this profile's title is the text's heading
    found: tuple[str, ...] = field(default=())  # the phrases found, for the reason


def flatten(text: str) -> str:
    """One line of text, whitespace collapsed (line breaks inside a phrase are spaces)."""
    return " ".join(text.split())


def score_text(text: str) -> list[Score]:
    """Every profile's score for ``text``, best first (ties: the table's order)."""
    flat = flatten(text)
    found: list[tuple[Profile, Cue, tuple[int, int]]] = []
    for profile in PROFILES:
        for cue in profile.cues:
            where = cue.find(flat)
            if where is not None:
                found.append((profile, cue, where))
    headings = [(where[0], -where[1], i) for i, (_, cue, where) in enumerate(found) if cue.heading]
    title = found[min(headings)[2]][0] if headings else None
    scores: list[Score] = []
    for profile in PROFILES:
        mine = [(cue, where) for p, cue, where in found if p is profile]
        points = sum(cue.weight for cue, _ in mine)
        is_title = profile is title
        scores.append(
            Score(
                profile,
                points + (HEADING_BONUS if is_title else 0),
                is_title,
                tuple(cue.phrase for cue, _ in mine if cue.weight > 0),
            )
        )
    order = {p.name: i for i, p in enumerate(PROFILES)}
    return sorted(scores, key=lambda s: (-s.points, order[s.profile.name]))
