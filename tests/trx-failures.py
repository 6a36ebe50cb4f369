#!/usr/bin/env python3
"""Prints each failed test of a TRX report with the first lines of its message,
so the end of a CI log names what failed."""
import sys
import xml.etree.ElementTree as ET

NS = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
root = ET.parse(sys.argv[1]).getroot()
for r in root.iterfind(".//t:UnitTestResult", NS):
    if r.get("outcome") != "Failed":
        continue
    msg = r.findtext(".//t:ErrorInfo/t:Message", default="", namespaces=NS).strip().splitlines()
    print(f"FAILED {r.get('testName')}")
    for line in msg[:6]:
        print(f"    {line[:400]}")
