"""Rebuild the mail-client samples in this folder (not run by the tests).

Each .eml is written byte for byte the way one client family structures its mail
(headers, MIME layout, transfer encodings, quoting and signature habits), from
the layouts documented in README.md. Attachments are the office documents of
../office/ and small images drawn with Pillow. Invented people, reserved domains.

Run: `.venv/bin/python tests/data/clients/make_mails.py` (from the repo root).
"""

from __future__ import annotations

import base64
import io
import quopri
import struct
import textwrap
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
OFFICE = HERE.parent / "office"
TO = "SIKM DKI <sikm@sikm.example.org>"


def b64(data: bytes) -> str:
    return "\n".join(textwrap.wrap(base64.b64encode(data).decode(), 76))


def qp(text: str, charset: str = "utf-8") -> str:
    return quopri.encodestring(text.encode(charset)).decode("ascii")


def ktp_jpeg() -> bytes:
    """A landscape card (85.6 x 54 mm shape) with some text, as a phone photographs it."""
    img = Image.new("RGB", (428, 270), (170, 200, 230))
    d = ImageDraw.Draw(img)
    d.text((20, 12), "PROVINSI DKI JAKARTA", fill=(0, 0, 0))
    d.text((20, 40), "NIK : 3174051205900003", fill=(0, 0, 0))
    d.text((20, 60), "Nama : BUDI SANTOSO", fill=(0, 0, 0))
    d.rectangle((320, 60, 400, 170), fill=(220, 60, 60))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=70)
    return buf.getvalue()


def photo_jpeg() -> bytes:
    """A portrait pass photo (3x4)."""
    img = Image.new("RGB", (240, 320), (200, 40, 40))
    d = ImageDraw.Draw(img)
    d.ellipse((70, 60, 170, 180), fill=(230, 190, 160))
    d.rectangle((40, 200, 200, 320), fill=(30, 30, 80))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=70)
    return buf.getvalue()


def logo_png() -> bytes:
    """A 64x32 signature logo (an inline image that is not a document)."""
    img = Image.new("RGB", (64, 32), (0, 90, 160))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def tnef() -> bytes:
    """A minimal TNEF stream as Outlook writes winmail.dat (signature, key, two attributes)."""

    def attr(level: int, tag: int, payload: bytes) -> bytes:
        checksum = sum(payload) & 0xFFFF
        return struct.pack("<BII", level, tag, len(payload)) + payload + struct.pack("<H", checksum)

    out = struct.pack("<IH", 0x223E9F78, 0x1234)
    out += attr(1, 0x00089006, struct.pack("<I", 0x00010000))  # attTnefVersion
    out += attr(1, 0x00069007, b"IPM.Microsoft Mail.Note\x00")  # attMessageClass
    out += attr(2, 0x00069002, b"\x01\x00\x00\x00")  # attAttachRenddata (truncated)
    out += attr(2, 0x00018010, b"formulir.pdf\x00")  # attAttachTitle
    return out


BUDI_FORM = """\
Nama Lengkap: Budi Santoso
NIK: 3174051205900003
Tempat Lahir: Jakarta
Tanggal Lahir: 12-05-1990
Jenis Kelamin: Laki-laki
Alamat: Jl. Kenari II No. 14, RT 005/RW 003, Kelurahan Kenari, Kecamatan Senen, Jakarta Pusat
Nomor HP: 0812-3456-7801
Kategori Pemohon: Penduduk DKI keluar Jabodetabek
Jenis Perjalanan: Sekali
Kota Asal: Jakarta Pusat
Kota Tujuan: Semarang
Tanggal Berangkat: 25-05-2020
Tanggal Kembali: 29-05-2020
Keperluan: Pengiriman logistik bahan pangan ke gudang Semarang
"""


def flowed(text: str, width: int = 72) -> str:
    """RFC 3676 format=flowed as Thunderbird writes it: soft breaks end with a space."""
    out = []
    for line in text.split("\n"):
        while len(line) > width:
            cut = line.rfind(" ", 0, width)
            if cut <= 0:
                break
            out.append(line[: cut + 1])
            line = line[cut + 1 :]
        out.append(line)
    return "\n".join(out)


def thunderbird() -> str:
    body = (
        "Selamat siang,\n\nBerikut data permohonan SIKM saya:\n\n"
        + BUDI_FORM
        + "\nFormulir, surat pernyataan dan surat pengantar terlampir.\n\n"
        "Terima kasih.\n\n-- \nBudi Santoso\nEmail: budi.lain@example.net\nHP: 0813 0000 1111\n"
    )
    pdf = (OFFICE / "formulir-pdftk.pdf").read_bytes()
    rt = (OFFICE / "surat-pengantar-rtrw.pdf").read_bytes()
    return f"""\
To: {TO}
From: Budi Santoso <budi.santoso@example.com>
Subject: Permohonan SIKM - Budi Santoso
Message-ID: <8a1f2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d@example.com>
Date: Tue, 19 May 2020 10:12:33 +0700
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:68.0) Gecko/20100101
 Thunderbird/68.8.0
MIME-Version: 1.0
Content-Type: multipart/mixed;
 boundary="------------9A2B1C7E0F3D4B5A6C7D8E9F"
Content-Language: id-ID

This is a multi-part message in MIME format.
--------------9A2B1C7E0F3D4B5A6C7D8E9F
Content-Type: text/plain; charset=utf-8; format=flowed
Content-Transfer-Encoding: 8bit

{flowed(body)}
--------------9A2B1C7E0F3D4B5A6C7D8E9F
Content-Type: application/pdf;
 name="formulir-pdftk.pdf"
Content-Transfer-Encoding: base64
Content-Disposition: attachment;
 filename="formulir-pdftk.pdf"

{b64(pdf)}
--------------9A2B1C7E0F3D4B5A6C7D8E9F
Content-Type: application/pdf;
 name*0*=utf-8''Surat%20Pengantar%20RT%20RW%20%E2%80%93%20Budi%20Santoso%20;
 name*1*=%28Kenari%29.pdf
Content-Transfer-Encoding: base64
Content-Disposition: attachment;
 filename*0*=utf-8''Surat%20Pengantar%20RT%20RW%20%E2%80%93%20Budi%20Sant;
 filename*1*=oso%20%28Kenari%29.pdf

{b64(rt)}
--------------9A2B1C7E0F3D4B5A6C7D8E9F--
"""


def outlook_tnef() -> str:
    text = (
        "Dengan hormat,\n\nNama Lengkap\xa0: Sari Wulandari\nNIK\xa0: 3273015203900002\n"
        "Nomor HP\xa0: 0813\xa02222\xa00102\nKota Asal\xa0: Bandung\n"
        "Kota Tujuan\xa0: Jakarta Selatan \u2013 Kebayoran Baru\n\n"
        "Formulir dan dokumen terlampir.\n\nSalam,\nSari\n\n"
        "From: SIKM DKI <sikm@sikm.example.org>\nSent: Monday, May 18, 2020 4:02 PM\n"
        "To: Sari Wulandari <sari.wulandari@example.net>\nSubject: Formulir SIKM\n\n"
        "Nama Lengkap: (isi nama)\nNIK: (16 angka)\n"
    )
    html = (
        '<html xmlns:o="urn:schemas-microsoft-com:office:office"><head>'
        '<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
        "<style><!-- p.MsoNormal {margin:0cm;} --></style></head>"
        '<body lang="EN-US"><div class="WordSection1">'
        '<p class="MsoNormal">Dengan hormat,<o:p></o:p></p>'
        '<p class="MsoNormal">Nama Lengkap&nbsp;: Sari Wulandari<o:p></o:p></p>'
        "</div></body></html>"
    )
    return (
        "Received: from EXCH01.example.net (192.0.2.10) by EXCH01.example.net\r\n"
        f"From: Sari Wulandari <sari.wulandari@example.net>\r\nTo: {TO}\r\n"
        "Subject: RE: Formulir SIKM\r\nThread-Topic: Formulir SIKM\r\n"
        "Thread-Index: AdYtC0yFfB2m3cQkS0mD7a1X9b3Yzw==\r\n"
        "Date: Tue, 19 May 2020 08:40:11 +0700\r\n"
        "Message-ID: <SG2PR01MB2218A5B2C3D4E5F6@SG2PR01MB2218.example.net>\r\n"
        "Accept-Language: en-US, id-ID\r\nContent-Language: en-US\r\n"
        "X-MS-Has-Attach: yes\r\nX-MS-TNEF-Correlator: <SG2PR01MB2218@example.net>\r\n"
        "X-Mailer: Microsoft Outlook 16.0\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed;\r\n\tboundary="_002_SG2PR01MB2218_"\r\n\r\n'
        "--_002_SG2PR01MB2218_\r\n"
        'Content-Type: multipart/alternative;\r\n\tboundary="_000_SG2PR01MB2218_"\r\n\r\n'
        "--_000_SG2PR01MB2218_\r\n"
        'Content-Type: text/plain; charset="windows-1252"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        + qp(text, "cp1252").replace("\n", "\r\n")
        + "\r\n--_000_SG2PR01MB2218_\r\n"
        'Content-Type: text/html; charset="windows-1252"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        + qp(html, "cp1252").replace("\n", "\r\n")
        + "\r\n--_000_SG2PR01MB2218_--\r\n\r\n"
        "--_002_SG2PR01MB2218_\r\n"
        'Content-Type: application/ms-tnef; name="winmail.dat"\r\n'
        "Content-Description: winmail.dat\r\nContent-Disposition: attachment;\r\n"
        '\tfilename="winmail.dat"; size=88;\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + b64(tnef()).replace("\n", "\r\n")
        + "\r\n\r\n--_002_SG2PR01MB2218_\r\n"
        "Content-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document;"
        '\r\n\tname="=?utf-8?B?Rm9ybXVsaXIgU0lLTSDigJMgU2FyaS5kb2N4?="\r\n'
        "Content-Description: =?utf-8?B?Rm9ybXVsaXIgU0lLTSDigJMgU2FyaS5kb2N4?=\r\n"
        "Content-Disposition: attachment;\r\n"
        '\tfilename="=?utf-8?B?Rm9ybXVsaXIgU0lLTSDigJMgU2FyaS5kb2N4?="; size=5232\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
        + b64((OFFICE / "formulir-tabel.docx").read_bytes()).replace("\n", "\r\n")
        + "\r\n\r\n--_002_SG2PR01MB2218_--\r\n"
    )


def gmail_forward() -> str:
    plain = (
        "Mohon dibantu, ini permohonan bapak saya.\n\n"
        "---------- Forwarded message ---------\n"
        "Dari: Andi Pratama <andi.pratama@example.org>\n"
        "Date: Sen, 18 Mei 2020 pukul 10.15\nSubject: SIKM\n"
        "To: Rina Pratama <rina.pratama@example.com>\n\n\n"
        "Nama Lengkap : Andi Pratama\nNIK : 3175020709850004\nTanggal Lahir : 07-09-1985\n"
        "Jenis Kelamin : L\nNomor HP : 085711112222\nKategori Pemohon : mendesak\n"
        "Kota Asal : Jakarta Timur\nKota Tujuan : Surabaya\n"
    )
    html = (
        '<div dir="ltr">Mohon dibantu, ini permohonan bapak saya.<br><br>'
        '<div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
        '---------- Forwarded message ---------<br>Dari: <strong class="gmail_sendername" '
        'dir="auto">Andi Pratama</strong> <span dir="auto">&lt;andi.pratama@example.org&gt;'
        "</span><br>Date: Sen, 18 Mei 2020 pukul 10.15<br>Subject: SIKM<br>To: Rina Pratama "
        "&lt;rina.pratama@example.com&gt;<br></div><br><br>"
        '<div dir="ltr">Nama Lengkap : Andi Pratama<br>NIK : 3175020709850004<br>'
        "Tanggal Lahir : 07-09-1985<br>Jenis Kelamin : L<br>Nomor HP : 085711112222<br>"
        "Kategori Pemohon : mendesak<br>Kota Asal : Jakarta Timur<br>Kota Tujuan : Surabaya"
        "</div></div></div>\n"
    )
    death = (OFFICE / "surat-keterangan-kematian.pdf").read_bytes()
    return f"""\
MIME-Version: 1.0
Date: Tue, 19 May 2020 07:02:41 +0700
Message-ID: <CAF3kR9xY2m_Qz8pW1fHn0vLr5tKb7s=Ua4cE6dG8hJ0iK2lM@mail.example.com>
Subject: Fwd: SIKM
From: Rina Pratama <rina.pratama@example.com>
To: {TO}
Content-Type: multipart/mixed; boundary="0000000000004b1c2d05a5e3f6a7"

--0000000000004b1c2d05a5e3f6a7
Content-Type: multipart/alternative; boundary="0000000000004b1c2a05a5e3f6a5"

--0000000000004b1c2a05a5e3f6a5
Content-Type: text/plain; charset="UTF-8"

{plain}
--0000000000004b1c2a05a5e3f6a5
Content-Type: text/html; charset="UTF-8"

{html}
--0000000000004b1c2a05a5e3f6a5--
--0000000000004b1c2d05a5e3f6a7
Content-Type: application/pdf; name="surat-keterangan-kematian.pdf"
Content-Disposition: attachment; filename="surat-keterangan-kematian.pdf"
Content-Transfer-Encoding: base64
X-Attachment-Id: f_kaf1x2y30
Content-ID: <f_kaf1x2y30>

{b64(death)}
--0000000000004b1c2d05a5e3f6a7--
"""


def gmail_reply_id() -> str:
    plain = (
        "Berikut data yang kurang:\n\nNomor HP: 0878 5555 0303\nBerlaku Sampai: 15-06-2020\n\n"
        "Pada Sen, 18 Mei 2020 pukul 10.15 SIKM DKI <sikm@sikm.example.org>\nmenulis:\n\n"
        "> Data Anda belum lengkap.\n>\n> Nama Lengkap: DEWI LESTARI\n> Nomor HP: (kosong)\n"
        "> Berlaku Sampai: 01-01-2021\n"
    )
    return f"""\
MIME-Version: 1.0
References: <sikm-2020-000007.1@sikm.example.org>
In-Reply-To: <sikm-2020-000007.1@sikm.example.org>
From: Dewi Lestari <dewi.lestari@example.com>
Date: Tue, 19 May 2020 09:30:02 +0700
Message-ID: <CAB7xQ2p9L0mR4nT6vW8yZ1aC3eG5iK7oQ9sU1wY3bD5fH7j@mail.example.com>
Subject: Re: [SIKM-2020-000007] Permohonan belum lengkap
To: SIKM DKI <sikm@sikm.example.org>
Content-Type: multipart/alternative; boundary="000000000000a1b2c305a5e40011"

--000000000000a1b2c305a5e40011
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

{qp(plain)}
--000000000000a1b2c305a5e40011
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

{
        qp(
            '<div dir="ltr">Berikut data yang kurang:<br><br>Nomor HP: 0878 5555 0303<br>'
            'Berlaku Sampai: 15-06-2020</div><br><div class="gmail_quote">'
            '<blockquote class="gmail_quote">Nama Lengkap: DEWI LESTARI</blockquote></div>'
        )
    }
--000000000000a1b2c305a5e40011--
"""


def apple_mail() -> str:
    return f"""\
From: Budi Santoso <budi.santoso@example.com>
Content-Type: multipart/mixed;
\tboundary="Apple-Mail=_5C1E8E2A-0B7D-4F3C-9A61-2D4E6F8A0B1C"
Mime-Version: 1.0 (Mac OS X Mail 13.4 \\(3608.80.23.2.2\\))
Subject: SIKM Budi Santoso - dokumen
Date: Tue, 19 May 2020 11:05:19 +0700
Message-Id: <5C1E8E2A-0B7D-4F3C-9A61-2D4E6F8A0B1C@example.com>
To: {TO}
X-Mailer: Apple Mail (2.3608.80.23.2.2)


--Apple-Mail=_5C1E8E2A-0B7D-4F3C-9A61-2D4E6F8A0B1C
Content-Transfer-Encoding: 7bit
Content-Type: text/plain;
\tcharset=us-ascii

Selamat siang, berikut KTP saya:


--Apple-Mail=_5C1E8E2A-0B7D-4F3C-9A61-2D4E6F8A0B1C
Content-Disposition: inline;
\tfilename=KTP.jpeg
Content-Type: image/jpeg;
\tx-unix-mode=0644;
\tname="KTP.jpeg"
Content-Transfer-Encoding: base64

{b64(ktp_jpeg())}
--Apple-Mail=_5C1E8E2A-0B7D-4F3C-9A61-2D4E6F8A0B1C
Content-Transfer-Encoding: 7bit
Content-Type: text/plain;
\tcharset=us-ascii


dan surat pernyataan:


--Apple-Mail=_5C1E8E2A-0B7D-4F3C-9A61-2D4E6F8A0B1C
Content-Disposition: attachment;
\tfilename*=utf-8''Surat%20Pernyataan%20Budi.pdf
Content-Type: application/pdf;
\tx-unix-mode=0644;
\tname="=?utf-8?Q?Surat_Pernyataan_Budi=2Epdf?="
Content-Transfer-Encoding: base64

{b64((OFFICE / "surat-pernyataan.pdf").read_bytes())}
--Apple-Mail=_5C1E8E2A-0B7D-4F3C-9A61-2D4E6F8A0B1C
Content-Transfer-Encoding: 7bit
Content-Type: text/plain;
\tcharset=us-ascii


Salam,
Budi
--Apple-Mail=_5C1E8E2A-0B7D-4F3C-9A61-2D4E6F8A0B1C--
"""


def android() -> str:
    plain = (
        "Nama lengkap : budi santoso\nnik : 3174051205900003\nnomor hp : 081234567801\n"
        "kota asal : jakarta pusat\nkota tujuan : semarang\n\n\n"
        "Dikirim dari Samsung Galaxy smartphone saya."
    )
    html = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=UTF-8"></head>'
        "<body><div>Nama lengkap : budi santoso</div><div>nik : 3174051205900003</div>"
        "<div>nomor hp : 081234567801</div><div>kota asal : jakarta pusat</div>"
        "<div>kota tujuan : semarang</div><div><br></div><div><br></div>"
        '<div id="composer_signature"><div style="font-size:85%;color:#575757">'
        "Dikirim dari Samsung Galaxy smartphone saya.</div></div></body></html>"
    )
    return f"""\
Date: Tue, 19 May 2020 12:44:10 +0700
Message-ID: <mbfp7x2ewq1ubkn2o0a4yh9s.1589867050123@email.android.com>
Subject: Sikm
From: budi santoso <budi.santoso@example.com>
To: sikm@sikm.example.org
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="--_com.samsung.android.email_1589867050_1"

----_com.samsung.android.email_1589867050_1
Content-Type: multipart/alternative; boundary="--_com.samsung.android.email_1589867050_2"

----_com.samsung.android.email_1589867050_2
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: base64

{b64(html.encode())}

----_com.samsung.android.email_1589867050_2
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

{b64(plain.encode())}

----_com.samsung.android.email_1589867050_2--

----_com.samsung.android.email_1589867050_1
Content-Type: image/jpeg; name="IMG_20200519_123001.jpg"
Content-Transfer-Encoding: base64

{b64(ktp_jpeg())}

----_com.samsung.android.email_1589867050_1
Content-Type: image/jpeg; name="IMG_20200519_123045.jpg"
Content-Transfer-Encoding: base64

{b64(photo_jpeg())}

----_com.samsung.android.email_1589867050_1
Content-Type: application/octet-stream; name="formulir-scan.pdf"
Content-Transfer-Encoding: base64

{b64((OFFICE / "formulir-scan.pdf").read_bytes())}

----_com.samsung.android.email_1589867050_1--
"""


def iphone() -> str:
    plain = (
        "Nama Lengkap: Dewi Lestari\nNIK: 3171046511880005\nJenis Kelamin: P\n"
        "Nomor HP: 0878 5555 0303\n\nDikirim dari iPhone saya"
    )
    return f"""\
Content-Type: multipart/mixed; boundary=Apple-Mail-0A1B2C3D-4E5F-6789-ABCD-EF0123456789
Content-Transfer-Encoding: 7bit
From: Dewi Lestari <dewi.lestari@example.com>
Mime-Version: 1.0 (1.0)
Date: Tue, 19 May 2020 13:20:55 +0700
Subject: Permohonan SIKM
Message-Id: <0A1B2C3D-4E5F-6789-ABCD-EF0123456789@example.com>
To: sikm@sikm.example.org
X-Mailer: iPhone Mail (17E262)


--Apple-Mail-0A1B2C3D-4E5F-6789-ABCD-EF0123456789
Content-Type: text/plain;
\tcharset=utf-8
Content-Transfer-Encoding: quoted-printable

{qp(plain)}
--Apple-Mail-0A1B2C3D-4E5F-6789-ABCD-EF0123456789
Content-Type: image/jpeg;
\tname=image0.jpeg;
\tx-apple-part-url=A1B2C3D4-0000-4000-8000-000000000001
Content-Disposition: inline;
\tfilename=image0.jpeg
Content-Transfer-Encoding: base64

{b64(photo_jpeg())}
--Apple-Mail-0A1B2C3D-4E5F-6789-ABCD-EF0123456789
Content-Type: application/pdf;
\tname=formulir-tebal.pdf;
\tx-apple-part-url=A1B2C3D4-0000-4000-8000-000000000002
Content-Disposition: attachment;
\tfilename=formulir-tebal.pdf
Content-Transfer-Encoding: base64

{b64((OFFICE / "formulir-tebal.pdf").read_bytes())}
--Apple-Mail-0A1B2C3D-4E5F-6789-ABCD-EF0123456789--
"""


def outlook_html_table() -> str:
    rows = [
        ("Nama Lengkap", "Sari Wulandari"),
        ("NIK", "3273015203900002"),
        ("Tanggal Lahir", "12/03/1990"),
        ("Jenis Kelamin", "Perempuan"),
        ("Nomor HP", "0813&nbsp;2222&nbsp;0102"),
        ("Kategori Pemohon", "Penduduk luar Jabodetabek masuk Jakarta"),
        ("Kota Asal", "Bandung"),
        ("Kota Tujuan", "Jakarta Selatan"),
        ("Nama Penjamin", "Maria Kusuma"),
    ]
    cells = "".join(
        '<tr><td width="180" valign="top" style="padding:0cm 5.4pt">'
        f'<p class="MsoNormal"><b>{label}<o:p></o:p></b></p></td>'
        '<td width="300" valign="top" style="padding:0cm 5.4pt">'
        f'<p class="MsoNormal">{value}<o:p></o:p></p></td></tr>\n'
        for label, value in rows
    )
    html = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
        "</head><body><div class=WordSection1>"
        '<p class="MsoNormal">Yth. Petugas SIKM,<o:p></o:p></p>'
        '<p class="MsoNormal"><o:p>&nbsp;</o:p></p>'
        '<table class="MsoTableGrid" border="1" cellspacing="0" cellpadding="0">\n'
        + cells
        + "</table>"
        '<p class="MsoNormal"><o:p>&nbsp;</o:p></p>'
        '<p class="MsoNormal">Hormat saya,<o:p></o:p></p>'
        '<p class="MsoNormal">Sari<o:p></o:p></p></div></body></html>'
    )
    return (
        "From: Sari Wulandari <sari.wulandari@example.net>\r\n"
        f"To: {TO}\r\nSubject: Permohonan SIKM\r\n"
        "Date: Tue, 19 May 2020 14:01:00 +0700\r\n"
        "Message-ID: <000001d62d8a$7b3c4d50$71b4e7f0$@example.net>\r\n"
        "MIME-Version: 1.0\r\nX-Mailer: Microsoft Outlook 16.0\r\n"
        'Content-Type: text/html; charset="windows-1252"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\nContent-Language: id\r\n\r\n"
        + qp(html, "cp1252").replace("\n", "\r\n")
        + "\r\n"
    )


def latin1_body() -> str:
    text = (
        "Yth. Bapak/Ibu,\n\nNama Lengkap: Andi Pratama\nNIK: 3175020709850004\n"
        "Alamat: Jl. Pemuda No. 21 \u2013 Rawamangun\nNomor HP:\xa0+62 857-1111-2222\n"
        "Keperluan: Menjenguk ayah yang sakit keras \u00abdarurat\u00bb\n"
    )
    return f"""\
From: "Andi Pratama" <andi.pratama@example.org>
To: sikm@sikm.example.org
Subject: =?iso-8859-1?Q?Permohonan_SIKM_=96_Andi?=
Date: Tue, 19 May 2020 15:10:00 +0700
Message-ID: <20200519151000.4F2A1@mail.example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable
X-Mailer: Roundcube Webmail/1.4.4

{qp(text, "cp1252")}
"""


def signature_only() -> str:
    return f"""\
From: Budi Santoso <budi.santoso@example.com>
To: sikm@sikm.example.org
Subject: Formulir SIKM
Date: Tue, 19 May 2020 16:00:00 +0700
Message-ID: <sig-only-20200519@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="sig-boundary"

--sig-boundary
Content-Type: text/plain; charset=utf-8

Terlampir formulir yang sudah saya isi.

--
Budi Santoso
Kepala Gudang, PT Logistik Nusantara Raya
Alamat: Jl. Gunung Sahari No. 88, Jakarta Pusat
Email: budi@logistik.example.com
HP: 0813 0000 1111

--sig-boundary
Content-Type: application/pdf; name="formulir.pdf"
Content-Transfer-Encoding: base64

{b64((OFFICE / "formulir-tanpa-tampilan.pdf").read_bytes())}
--sig-boundary--
"""


def main() -> None:
    mails = {
        "thunderbird_flowed_rfc2231": thunderbird(),
        "outlook_tnef_docx": outlook_tnef(),
        "gmail_inline_forward": gmail_forward(),
        "gmail_reply_indonesian": gmail_reply_id(),
        "apple_mail_inline_parts": apple_mail(),
        "android_base64_html_first": android(),
        "iphone_inline_photo": iphone(),
        "outlook_html_table_only": outlook_html_table(),
        "roundcube_latin1_nbsp": latin1_body(),
        "signature_not_form": signature_only(),
    }
    for name, text in mails.items():
        (HERE / f"{name}.eml").write_bytes(text.encode("utf-8"))


if __name__ == "__main__":
    main()
