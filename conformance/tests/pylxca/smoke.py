"""Lenovo's own Python client, pylxca, unchanged, against the LXCA emulator.

Usage: python smoke.py https://127.0.0.1:PORT USER PASSWORD

Drives pylxca's scripting API (pylxca.connect, managementserver, osimages, tasks, disconnect) as a
user would, and checks what comes back. Exits non-zero (with the reason) on the first failure.
"""

import json
import os
import sys
import tempfile

import pylxca


def check(condition, message):
    if not condition:
        print("FAIL: " + message, flush=True)
        sys.exit(1)
    print("ok: " + message, flush=True)


def main():
    url, user, password = sys.argv[1], sys.argv[2], sys.argv[3]

    # connect: POST /sessions, then X-Csrf-Token on every request; GET /aicc checks the login.
    con = pylxca.connect(url=url, user=user, pw=password, noverify="True")
    check(con is not None, "connect logs in (POST /sessions, GET /aicc)")
    session = con.get_session()
    check(bool(session.headers.get("X-Csrf-Token")), "the session carries X-Csrf-Token")
    check(bool(session.cookies.get("JSESSIONID")), "the session holds the JSESSIONID cookie")

    # Updates: the repository, then the readme of one package.
    version = pylxca.managementserver(con, subcmd="query", key="currentVersion")
    check(isinstance(version, dict) and version.get("currentVersion"),
          "managementserver query key=currentVersion: %s" % version.get("currentVersion"))
    updates = pylxca.managementserver(con, subcmd="query", key="updates")
    fixids = [u["fixid"] for u in updates.get("updates", [])]
    check(len(fixids) > 0, "managementserver query key=updates lists %d packages" % len(fixids))
    readme = pylxca.managementserver(con, subcmd="query_fixids", fixids=fixids[0], type="readme")
    check(readme.get("field") == "readme" and readme.get("status", {}).get("value"),
          "managementserver query_fixids type=readme serves the readme of %s" % fixids[0])

    # OS images: list, create an import job, upload a file into it, list again.
    images = pylxca.osimages(con, subcmd="list")
    check(isinstance(images, dict), "osimages list answers the repository")
    job = pylxca.osimages(con, subcmd="import", imagetype="OS")
    check(isinstance(job, dict) and job.get("jobId"), "osimages import creates job %s" % job.get("jobId"))
    workdir = tempfile.mkdtemp()
    path = os.path.join(workdir, "pylxca-smoke.iso")
    with open(path, "wb") as f:
        f.write(b"an ISO image from pylxca\n" * 1000)
    upload = {"jobId": job["jobId"], "imageName": "pylxca-smoke", "os": "rhel",
              "description": "pylxca smoke test", "file": path}
    result = pylxca.osimages(con, subcmd="import", imagetype="OS", osimages_dict=json.dumps(upload))
    check(isinstance(result, dict) and result.get("result") == "success"
          and result.get("fileid") == "pylxca-smoke.iso",
          "osimages import uploads the file: %s" % result)
    images = pylxca.osimages(con, subcmd="list")
    names = [i.get("name") for i in images.get("images", [])]
    check("pylxca-smoke.iso" in names, "the uploaded image is listed")

    # Updates import: a job, then the files (multipart uploadedfile[]).
    xml = os.path.join(workdir, "lnvgy_sw_lxca_smoke-1.0.0_anyos_noarch.xml")
    txt = os.path.join(workdir, "lnvgy_sw_lxca_smoke-1.0.0_anyos_noarch.txt")
    with open(xml, "w") as f:
        f.write("<xml/>\n")
    with open(txt, "w") as f:
        f.write("Smoke README\n")
    files = xml + "," + txt
    created = pylxca.managementserver(con, subcmd="import", files=files)
    check(created.get("jobid"), "managementserver import creates job %s" % created.get("jobid"))
    imported = pylxca.managementserver(con, subcmd="import", jobid=created["jobid"], files=files)
    check(imported.get("result") == "success", "managementserver import uploads the files")

    # Tasks: the import jobs are there, complete.
    tasks = pylxca.tasks(con)
    task_list = tasks.get("TaskList", []) if isinstance(tasks, dict) else tasks
    by_id = {t.get("jobUID"): t for t in task_list}
    check(job["jobId"] in by_id and by_id[job["jobId"]].get("status") == "Complete",
          "tasks lists the OS import job as Complete")
    check(created["jobid"] in by_id, "tasks lists the updates import job")

    # disconnect: DELETE /sessions.
    check(pylxca.disconnect(con) is True, "disconnect logs out (DELETE /sessions)")
    print("pylxca smoke: all checks passed", flush=True)


if __name__ == "__main__":
    main()
