# The client of the Python tutorial this course starts from, reconstructed for the course: the
# same socket calls in the same order, the same bytes on the wire. Its defects are deliberate:
# it takes whatever one recv(1024) returns as the whole reply, sends each typed line without
# any end-of-message mark, and says `exit` by sending those four bytes alone. Do not fix them.
#
# It connects to 127.0.0.1:8888, hard-coded. The course's tests run it unchanged against a
# server on a free port (see tests/support/src/originals.rs).
# ANCHOR: program
import socket

client = socket.socket()
address = ("127.0.0.1", 8888)
client.connect(address)
while True:
    data = client.recv(1024)
    print(data.decode())
    messages = input("请输入发生或请求的数据(exit退出):")
    client.send(messages.encode())
    if messages == 'exit':
        break
client.close()
# ANCHOR_END: program
