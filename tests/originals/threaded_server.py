# The threaded server of the Python tutorial this course starts from, reconstructed for the
# course: the same socket calls in the same order, the same bytes on the wire. Its defects are
# deliberate, and chapters 3 and 5 show them: the main loop starts threads without pause and
# without bound, each of which blocks in accept() itself, so threads pile up even when no
# client comes, until starting one fails; one recv(1024) is taken as one message; a client that
# leaves without `exit` makes its thread spin or die. Do not fix them here, and never run it
# without a memory cap (the course's tests cap its address space).
#
# It listens on 127.0.0.1:8888, hard-coded. The course's tests run it unchanged on a free port
# (see tests/support/src/originals.rs).
import socket
import threading
import random


# ANCHOR: handler
def handle_client():
    client, peer = server.accept()
    print("[*] Accept connection from: %s:%d" % (peer[0], peer[1]))
    messages = "Hello World!"
    client.send(messages.encode())
    while True:
        request = (client.recv(1024)).decode()
        if request == 'exit':
            break
        print("[*] Received from %s:%d : %s" % (peer[0], peer[1], request))
        client.send((str(random.randint(1, 1000)) + ":" + "ACK!").encode())
    client.close()
# ANCHOR_END: handler


if __name__ == "__main__":
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ip = '127.0.0.1'
    port = 8888
    server.bind((ip, port))
    server.listen(5)
    print("[*] Listening on %s:%d" % (ip, port))
    # ANCHOR: spawn
    while True:
        client_handler = threading.Thread(target=handle_client)
        client_handler.start()
    # ANCHOR_END: spawn
