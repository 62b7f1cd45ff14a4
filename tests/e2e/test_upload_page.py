"""Your own data in the browser: upload a CSV, train on it, see a bad file explained."""

from __future__ import annotations

from support.samples import write_animals


def test_an_uploaded_csv_trains_and_names_its_inputs(app, tmp_path):
    app.open("playing=true", frames=2)
    with app.page.expect_file_chooser() as chooser:
        app.page.get_by_role("button", name="Your CSV").click()
    chooser.value.set_files(str(write_animals(tmp_path / "animals.csv")))
    app.wait("/dataset=csv-[0-9a-f]{12}/.test(location.hash)")
    app.wait("paramlab.session.architecture.n_inputs === 3")
    # The input layer is labelled with the file's columns; the upload button shows the file.
    network_text = app.page.locator("#network").inner_text()
    for column in ("body_length_cm", "fin_count", "vertebrate"):
        assert column in network_text
    upload = app.page.get_by_role("button", name="animals.csv")
    assert upload.get_attribute("aria-pressed") == "true"
    # It trains: the displayed test accuracy climbs to 100% (fins decide).
    app.wait("Number(document.querySelector('#test-acc').title) === 1", timeout=20000)
    # The column that never varies is standardized to 0: its weights get exactly zero gradient.
    app.pause()  # a paused frame carries every part (training frames only what the edges show)
    frame = app.frame()
    assert frame["step"] > 0 and frame["layers"][0]["dW"][2] == [0.0] * 4
    assert any(g != 0 for g in frame["layers"][0]["dW"][1])  # fin_count's do not
    app.shot("upload-csv")


def test_a_bad_csv_is_explained_and_nothing_changes(app, tmp_path):
    app.open(frames=1)
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n1,2,x\n3,oops,y\n")
    app.page.set_input_files("#csv-file", str(bad))
    app.wait("!document.querySelector('#banner-err').hidden")
    message = app.page.locator("#banner-err").inner_text()
    assert "bad.csv" in message and "line 3" in message and "'b'" in message and "label in the last column" in message
    assert "dataset=circle" in app.js("location.hash")
    # The browser logs the refused request itself; that line is the expected answer, not a fault.
    app.errors[:] = [e for e in app.errors if "422" not in e]
